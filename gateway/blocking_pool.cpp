#include "gateway/blocking_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ag {

struct blocking_pool::impl {
    explicit impl(std::size_t n)
        : pool(n) {}
    boost::asio::thread_pool pool;
};

blocking_pool::blocking_pool(std::size_t threads)
    : impl_(std::make_unique<impl>(threads)) {}
blocking_pool::~blocking_pool() {
    stop();
}

boost::asio::awaitable<void> blocking_pool::run(std::function<void()> fn) {
    co_await boost::asio::co_spawn(
        impl_->pool,
        [&fn]() -> boost::asio::awaitable<void> {
            fn();
            co_return;
        },
        boost::asio::use_awaitable);
}

void blocking_pool::stop() noexcept {
    impl_->pool.stop();
    impl_->pool.join();
}

} // namespace ag
