#pragma once
// The small thread pool for blocking work (disk walks, fsync, hashing, libgit2). I/O threads await it.
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

namespace ag {

class blocking_pool {
public:
    explicit blocking_pool(std::size_t threads);
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
            co_await run([&] { out.emplace(fn()); });
            co_return std::move(*out);
        }
    }

    void stop() noexcept; // waits for running work

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ag
