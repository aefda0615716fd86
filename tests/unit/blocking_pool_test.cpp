// blocking_pool: work runs off the caller's thread, grows while every thread is busy, refuses after stop.
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace ag;
using namespace ag::net;

namespace {

// A gate the jobs wait at until the test opens it; every wait is bounded.
struct gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    int waiting = 0;
    void wait() {
        std::unique_lock lock(m);
        ++waiting;
        cv.notify_all();
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return open; });
    }
    bool wait_for_waiters(int n) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, std::chrono::seconds(10), [&] { return waiting >= n; });
    }
    void release() {
        std::lock_guard lock(m);
        open = true;
        cv.notify_all();
    }
};

} // namespace

TEST_CASE("blocking_pool: runs off the caller's thread, resumes on it, rethrows there") {
    blocking_pool pool(1, 2);
    asio::io_context ioc;
    std::thread::id caller = std::this_thread::get_id(), worker, resumed;
    bool threw = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto note_worker = [&] { worker = std::this_thread::get_id(); };
            co_await pool.run(note_worker);
            resumed = std::this_thread::get_id();
            try {
                auto fail = [] { throw std::runtime_error("disk on fire"); };
                co_await pool.run(fail);
            } catch (const std::runtime_error& e) {
                threw = std::string(e.what()) == "disk on fire";
            }
            auto answer = [] { return 42; };
            auto n = co_await pool.call(answer);
            CHECK(n == 42);
        },
        asio::detached);
    ioc.run_for(std::chrono::seconds(10));
    CHECK(worker != caller);
    CHECK(resumed == caller);
    CHECK(threw);
}

TEST_CASE("blocking_pool: grows while every thread is busy, up to its maximum; then work queues") {
    blocking_pool pool(1, 3);
    gate g;
    std::atomic<int> done{0};
    for (int i = 0; i < 4; ++i)
        pool.start([&] {
            g.wait();
            ++done;
        });
    // Three run at once (the core thread and two more); the fourth waits for a free thread.
    REQUIRE(g.wait_for_waiters(3));
    CHECK(pool.threads() == 3);
    {
        std::lock_guard lock(g.m);
        CHECK(g.waiting == 3);
    }
    g.release();
    REQUIRE(g.wait_for_waiters(4));
    pool.stop();
    CHECK(done == 4);
}

TEST_CASE("blocking_pool: queued work finishes at stop; new work is refused") {
    blocking_pool pool(1, 1);
    std::atomic<int> done{0};
    for (int i = 0; i < 10; ++i)
        pool.start([&] { ++done; });
    pool.stop();
    CHECK(done == 10);
    CHECK_THROWS(pool.start([] {}));
    asio::io_context ioc;
    bool refused = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            try {
                auto nothing = [] {};
                co_await pool.run(nothing);
            } catch (const std::runtime_error&) {
                refused = true;
            }
        },
        asio::detached);
    ioc.run_for(std::chrono::seconds(5));
    CHECK(refused);
}
