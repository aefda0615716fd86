#include "runtime/blocking_pool.hpp"

#include "util/log.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace ag {
namespace {
constexpr auto idle_exit = std::chrono::seconds(30);
}

struct blocking_pool::impl : std::enable_shared_from_this<impl> {
    impl(std::size_t core_threads, std::size_t max_threads)
        : core(std::max<std::size_t>(core_threads, 1))
        , max(std::max(max_threads, core)) {}

    const std::size_t core;
    const std::size_t max;
    mutable std::mutex mutex;
    std::condition_variable work_ready;
    std::condition_variable all_done;
    std::deque<std::function<void()>> queue;
    std::size_t alive = 0; // threads, background ones included
    std::size_t idle = 0;  // threads waiting for work
    bool stopping = false;

    // With the mutex held.
    void spawn_worker() {
        ++alive;
        std::thread([self = shared_from_this()] { self->work(); }).detach();
    }

    void work() {
        std::unique_lock lock(mutex);
        for (;;) {
            ++idle;
            bool woken = work_ready.wait_for(lock, idle_exit, [&] { return stopping || !queue.empty(); });
            --idle;
            if (queue.empty() && (stopping || (!woken && alive > core)))
                break;
            if (queue.empty())
                continue;
            auto job = std::move(queue.front());
            queue.pop_front();
            lock.unlock();
            job();
            lock.lock();
        }
        if (--alive == 0)
            all_done.notify_all();
    }

    // False once stop() began (the job is dropped).
    bool submit(std::function<void()> job) {
        std::lock_guard lock(mutex);
        if (stopping)
            return false;
        queue.push_back(std::move(job));
        if (idle == 0 && alive < max)
            spawn_worker();
        else
            work_ready.notify_one();
        return true;
    }
};

blocking_pool::blocking_pool(std::size_t core, std::size_t max)
    : impl_(std::make_shared<impl>(core, max)) {
    std::lock_guard lock(impl_->mutex);
    for (std::size_t i = 0; i < impl_->core; ++i)
        impl_->spawn_worker();
}

blocking_pool::~blocking_pool() {
    stop();
}

boost::asio::awaitable<void> blocking_pool::run(std::function<void()> fn) {
    namespace asio = boost::asio;
    // Completes with what fn threw (the awaiting coroutine rethrows it), on the caller's own executor.
    // The initiation is named apart from the co_await: GCC 12 miscompiles a lambda and a co_await in one
    // statement (house rule, scripts/check-coawait).
    auto initiate = [this, &fn](auto handler) {
        auto ex = asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        bool queued = impl_->submit([shared, ex, &fn] {
            std::exception_ptr e;
            try {
                fn();
            } catch (...) {
                e = std::current_exception();
            }
            asio::post(ex, [shared, e] { std::move (*shared)(e); });
        });
        // Never thrown from here: the handler owns the awaiting coroutine and must be completed.
        if (!queued)
            asio::post(ex, [shared] {
                std::move (*shared)(std::make_exception_ptr(std::runtime_error("the daemon is stopping")));
            });
    };
    auto done = asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
        std::move(initiate), asio::use_awaitable);
    co_await std::move(done);
}

void blocking_pool::start(std::function<void()> fn, bool background) {
    auto guarded = [fn = std::move(fn)] {
        try {
            fn();
        } catch (const std::exception& e) {
            log::error("background work failed: {}", e.what());
        }
    };
    if (!background) {
        if (!impl_->submit(std::move(guarded)))
            throw std::runtime_error("the daemon is stopping");
        return;
    }
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping)
        throw std::runtime_error("the daemon is stopping");
    ++impl_->alive;
    std::thread([self = impl_, guarded = std::move(guarded)] {
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
        guarded();
        std::lock_guard lock(self->mutex);
        if (--self->alive == 0)
            self->all_done.notify_all();
    }).detach();
}

void blocking_pool::stop(std::chrono::milliseconds max_wait) noexcept {
    std::unique_lock lock(impl_->mutex);
    impl_->stopping = true;
    impl_->work_ready.notify_all();
    if (!impl_->all_done.wait_for(lock, max_wait, [&] { return impl_->alive == 0; }))
        log::warn("{} blocking job(s) still running at exit", impl_->alive);
}

std::size_t blocking_pool::threads() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->alive;
}

} // namespace ag
