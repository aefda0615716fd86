#pragma once
// The systemd watchdog (WatchdogSec=): "WATCHDOG=1" sent from an I/O loop itself, at half of $WATCHDOG_USEC,
// so a loop that is stuck stops the pings and systemd restarts the daemon. Without $WATCHDOG_USEC (or with a
// $WATCHDOG_PID that is not ours) it does nothing. Lives on one io_context: start() and stop() run on its
// thread; it must outlive the loop's run.
#include "util/service.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace ag {

class watchdog final : public service {
public:
    // Reads $WATCHDOG_USEC and $WATCHDOG_PID now.
    explicit watchdog(boost::asio::io_context& ioc);

    std::string_view name() const noexcept override { return "systemd watchdog"; }
    // Pings at once, then every interval() until stop().
    void start() override;
    void stop() noexcept override;
    bool stopped() const noexcept override { return !running_; }

    bool enabled() const noexcept { return interval_.count() > 0; }
    // Half of $WATCHDOG_USEC; zero when disabled.
    std::chrono::microseconds interval() const noexcept { return interval_; }

private:
    boost::asio::awaitable<void> run_pings();

    boost::asio::steady_timer timer_;
    std::chrono::microseconds interval_{0};
    bool stopping_ = false;
    bool running_ = false;
};

} // namespace ag
