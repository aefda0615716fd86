// The workspace gate: coroutines wait for it without holding their thread, first come first served.
#include "runtime/async_mutex.hpp"
#include "runtime/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace ag::net;

namespace {

asio::awaitable<void> hold(ag::async_mutex& m, std::vector<std::string>& order, std::string name,
                           std::chrono::milliseconds for_how_long) {
    auto g = co_await m.lock();
    order.push_back(name + "+");
    asio::steady_timer t(co_await asio::this_coro::executor, for_how_long);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    order.push_back(name + "-");
}

} // namespace

TEST_CASE("async_mutex: one holder at a time, waiters in arrival order, none of them blocks the thread") {
    asio::io_context ioc; // one thread: a waiter that blocked it would stall everything below
    ag::async_mutex m;
    std::vector<std::string> order;
    for (const char* name : {"a", "b", "c"})
        asio::co_spawn(ioc, hold(m, order, name, std::chrono::milliseconds(20)), asio::detached);
    // Unrelated work on the same thread goes on while b and c wait.
    bool other_ran = false;
    asio::steady_timer t(ioc, std::chrono::milliseconds(5));
    t.async_wait([&](auto) { other_ran = order.size() == 1; });
    ioc.run_for(std::chrono::seconds(5));
    CHECK(other_ran);
    CHECK(order == std::vector<std::string>{"a+", "a-", "b+", "b-", "c+", "c-"});
}

TEST_CASE("async_mutex: a waiter that goes away does not keep the mutex from the next one") {
    ag::async_mutex m;
    std::vector<std::string> order;
    {
        asio::io_context doomed;
        asio::co_spawn(doomed, hold(m, order, "a", std::chrono::milliseconds(50)), asio::detached);
        asio::co_spawn(doomed, hold(m, order, "gone", std::chrono::milliseconds(1)), asio::detached);
        doomed.run_for(std::chrono::milliseconds(10)); // a holds, "gone" waits; then both are destroyed
    }
    asio::io_context ioc;
    asio::co_spawn(ioc, hold(m, order, "next", std::chrono::milliseconds(1)), asio::detached);
    ioc.run_for(std::chrono::seconds(2));
    CHECK(order == std::vector<std::string>{"a+", "next+", "next-"});
}
