#pragma once
// The shapes a long-lived part's lifecycle takes, as util/service.hpp services: a part with plain start and
// stop calls, a part whose stop is a coroutine (children: SIGTERM, then SIGKILL), and a periodic job.
#include "util/service.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace ag::app {

class plain_service final : public service {
public:
    plain_service(std::string name, std::function<void()> start, std::function<void()> stop)
        : name_(std::move(name))
        , start_(std::move(start))
        , stop_(std::move(stop)) {}
    std::string_view name() const noexcept override { return name_; }
    void start() override;
    void stop() noexcept override;

private:
    std::string name_;
    std::function<void()> start_;
    std::function<void()> stop_;
    bool stopped_ = false;
};

class async_stopped_service final : public service {
public:
    async_stopped_service(std::string name, boost::asio::io_context& ioc, std::function<void()> start,
                          std::function<boost::asio::awaitable<void>()> stop)
        : name_(std::move(name))
        , ioc_(ioc)
        , start_(std::move(start))
        , stop_(std::move(stop)) {}
    std::string_view name() const noexcept override { return name_; }
    void start() override;
    void stop() noexcept override;
    bool stopped() const noexcept override { return done_; }

private:
    std::string name_;
    boost::asio::io_context& ioc_;
    std::function<void()> start_;
    std::function<boost::asio::awaitable<void>()> stop_;
    bool stopping_ = false;
    bool done_ = false;
};

// Runs `tick` every `interval` on `ioc` (the tick hands blocking work to the pool itself). A tick that
// throws is logged; the next one runs as planned. stop() cancels the wait; a running tick finishes first.
class periodic_job final : public service {
public:
    periodic_job(std::string name, boost::asio::io_context& ioc, std::chrono::milliseconds interval,
                 std::function<boost::asio::awaitable<void>()> tick)
        : name_(std::move(name))
        , timer_(ioc)
        , interval_(interval)
        , tick_(std::move(tick)) {}
    std::string_view name() const noexcept override { return name_; }
    void start() override;
    void stop() noexcept override;
    bool stopped() const noexcept override { return !running_; }

private:
    boost::asio::awaitable<void> loop();

    std::string name_;
    boost::asio::steady_timer timer_;
    std::chrono::milliseconds interval_;
    std::function<boost::asio::awaitable<void>()> tick_;
    bool stopping_ = false;
    bool running_ = false;
};

} // namespace ag::app
