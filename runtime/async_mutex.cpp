#include "runtime/async_mutex.hpp"
#include "runtime/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

namespace ag {

struct async_mutex::waiter {
    explicit waiter(const asio::any_io_executor& ex)
        : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer; // cancelled, on its own executor, when the mutex is handed over
    bool granted = false;     // under mutex_
};

asio::awaitable<async_mutex::guard> async_mutex::lock() {
    auto self = std::make_shared<waiter>(co_await asio::this_coro::executor);
    {
        std::lock_guard lock(mutex_);
        if (!locked_) {
            locked_ = true;
            co_return guard(this);
        }
        waiters_.push_back(self);
    }
    // A waiter whose coroutine is destroyed (shutdown) leaves the queue, or passes on what it was granted.
    struct leave_on_destroy {
        leave_on_destroy(async_mutex* mutex, std::shared_ptr<waiter> waiting)
            : m(mutex)
            , w(std::move(waiting)) {}
        leave_on_destroy(const leave_on_destroy&) = delete;
        leave_on_destroy& operator=(const leave_on_destroy&) = delete;
        async_mutex* m;
        std::shared_ptr<waiter> w;
        bool owned = false;
        ~leave_on_destroy() {
            if (!owned)
                m->leave(w);
        }
    } leave(this, self);
    for (;;) {
        co_await self->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        std::lock_guard lock(mutex_);
        if (self->granted) {
            leave.owned = true;
            co_return guard(this);
        }
    }
}

void async_mutex::leave(const std::shared_ptr<waiter>& w) noexcept {
    bool granted = false;
    try {
        std::lock_guard lock(mutex_);
        granted = w->granted;
        if (!granted)
            std::erase(waiters_, w);
    } catch (...) {
        std::terminate(); // std::mutex failed: nothing can be trusted any more
    }
    if (granted)
        unlock();
}

void async_mutex::unlock() noexcept {
    // Handing over can only fail when the process cannot go on (no memory, an empty executor).
    try {
        hand_over();
    } catch (...) {
        std::terminate();
    }
}

void async_mutex::hand_over() {
    std::shared_ptr<waiter> next;
    {
        std::lock_guard lock(mutex_);
        if (waiters_.empty()) {
            locked_ = false;
            return;
        }
        // Ownership passes to the oldest waiter; the mutex stays locked.
        next = std::move(waiters_.front());
        waiters_.pop_front();
        next->granted = true;
    }
    asio::post(next->timer.get_executor(), [next] { next->timer.cancel(); });
}

} // namespace ag
