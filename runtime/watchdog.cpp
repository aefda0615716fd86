#include "runtime/watchdog.hpp"

#include "runtime/net.hpp"
#include "util/log.hpp"
#include "util/sd_notify.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <utility>

namespace ag {

watchdog::watchdog(asio::io_context& ioc)
    : timer_(ioc) {
    if (auto timeout = watchdog_timeout())
        interval_ = std::max(*timeout / 2, std::chrono::microseconds(1));
}

void watchdog::start() {
    if (!enabled())
        return;
    log::info("systemd watchdog: WATCHDOG=1 every {} ms", interval_.count() / 1000);
    running_ = true;
    asio::co_spawn(timer_.get_executor(), run_pings(),
                   [this](const std::exception_ptr&) { running_ = false; });
}

void watchdog::stop() noexcept {
    stopping_ = true;
    try {
        timer_.cancel();
    } catch (const std::exception& e) {
        log::warn("systemd watchdog: {}", e.what());
    }
}

asio::awaitable<void> watchdog::run_pings() {
    bool warned = false;
    while (!stopping_) {
        bool sent = sd_notify("WATCHDOG=1");
        if (!sent && !std::exchange(warned, true))
            log::warn("systemd watchdog: cannot reach $NOTIFY_SOCKET; later failures are not logged");
        timer_.expires_after(interval_);
        auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec)
            break;
    }
}

} // namespace ag
