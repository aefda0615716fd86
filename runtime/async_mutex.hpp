#pragma once
// A mutex coroutines wait for without holding a thread: first come, first served. Used for the workspace
// lock, so a push and a snapshot waiting for each other hold no thread of the 2-thread blocking pool while
// they wait (the work itself still takes git::workspace::lock() on the pool, then uncontended).
// Thread-safe; waiters may live on different io_contexts.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <deque>
#include <memory>
#include <mutex>

namespace ag {

class async_mutex {
public:
    class guard {
    public:
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;
        guard() = default;
        explicit guard(async_mutex* m)
            : m_(m) {}
        guard(guard&& o) noexcept
            : m_(std::exchange(o.m_, nullptr)) {}
        guard& operator=(guard&&) = delete;
        ~guard() {
            if (m_)
                m_->unlock();
        }

    private:
        async_mutex* m_ = nullptr;
    };

    // Resumes once the mutex is this caller's; the guard releases it.
    boost::asio::awaitable<guard> lock();

private:
    struct waiter;
    void unlock() noexcept;
    void hand_over();
    void leave(const std::shared_ptr<waiter>& w) noexcept; // a waiter that will not wait any more

    std::mutex mutex_;
    bool locked_ = false;
    std::deque<std::shared_ptr<waiter>> waiters_;
};

} // namespace ag
