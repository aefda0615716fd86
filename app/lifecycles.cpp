#include "app/lifecycles.hpp"

#include "runtime/net.hpp"
#include "util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ag::app {

void plain_service::start() {
    if (start_)
        start_();
}

void plain_service::stop() noexcept {
    if (std::exchange(stopped_, true) || !stop_)
        return;
    try {
        stop_();
    } catch (const std::exception& e) {
        log::error("stopping {}: {}", name_, e.what());
    }
}

void async_stopped_service::start() {
    if (start_)
        start_();
}

void async_stopped_service::stop() noexcept {
    if (std::exchange(stopping_, true))
        return;
    try {
        asio::co_spawn(ioc_, stop_(), [this](const std::exception_ptr& e) {
            if (e)
                log::error("stopping {} failed", name_);
            done_ = true;
        });
    } catch (const std::exception& e) {
        log::error("stopping {}: {}", name_, e.what());
        done_ = true;
    }
}

void periodic_job::start() {
    running_ = true;
    asio::co_spawn(timer_.get_executor(), loop(), [this](const std::exception_ptr&) { running_ = false; });
}

void periodic_job::stop() noexcept {
    stopping_ = true;
    timer_.cancel();
}

asio::awaitable<void> periodic_job::loop() {
    while (!stopping_) {
        timer_.expires_after(interval_);
        auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || stopping_)
            break;
        try {
            co_await tick_();
        } catch (const std::exception& e) {
            log::warn("{}: {}", name_, e.what());
        }
    }
}

} // namespace ag::app
