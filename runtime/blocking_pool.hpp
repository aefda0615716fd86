#pragma once
// The daemon's one place for blocking work: disk walks, fsync, hashing, libgit2, packs produced for a slow
// client, the IPFS node's answers. I/O threads await it and never block themselves.
//
// `core` threads always wait for work. When every thread is busy (a pack producer waiting on a slow client
// holds its thread), another starts, up to `max`; past that, work queues. Threads above `core` end after
// 30 s without work. Background jobs (a clone pack rebuild) run on threads of their own at lowered priority.
// Thread-safe.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

namespace ag {

class blocking_pool {
public:
    blocking_pool(std::size_t core, std::size_t max);
    ~blocking_pool();
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;

    // Runs fn on the pool and resumes the caller on its own executor; fn's exception is rethrown there.
    boost::asio::awaitable<void> run(std::function<void()> fn);

    template <class F> boost::asio::awaitable<std::invoke_result_t<F&>> call(F fn) {
        using result = std::invoke_result_t<F&>;
        if constexpr (std::is_void_v<result>) {
            co_await run(std::ref(fn));
        } else {
            std::optional<result> out;
            // Named apart from the co_await: GCC 12 miscompiles a lambda and a co_await in one statement.
            auto fill = [&] { out.emplace(fn()); };
            co_await run(fill);
            co_return std::move(*out);
        }
    }

    // Runs fn on the pool without waiting for it (what it throws is logged). `background`: on a thread of
    // its own at lowered priority, for work that must not compete with requests. Throws once stop() began.
    void start(std::function<void()> fn, bool background = false);

    // Refuses new work, lets running and queued work finish (up to `max_wait`), and returns.
    void stop(std::chrono::milliseconds max_wait = std::chrono::seconds(5)) noexcept;

    // Threads alive now (for tests and the metrics to come).
    std::size_t threads() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_; // shared with its threads: one still finishing after stop() keeps it alive
};

} // namespace ag
