#pragma once
// One I/O thread with its own io_context. Internal to gateway/: only its .cpp files include Asio I/O headers.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>
#include <unordered_set>

namespace ag {

// A live connection as the worker sees it, for shutdown: idle ones are cancelled at once, busy ones finish
// their response first.
// Deadlines are checked by the worker's once-a-second sweep rather than a timer per socket operation:
// re-arming per-operation timers cost a timerfd update per request (measured: the top kernel symbol under
// load).
struct connection_handle {
    bool idle = false;
    std::function<void()> cancel;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    void expire_after(std::chrono::steady_clock::duration d) {
        deadline = std::chrono::steady_clock::now() + d;
    }
    void expire_never() { deadline = std::chrono::steady_clock::time_point::max(); }
};

struct worker {
    boost::asio::io_context ioc{1};
    std::thread thread;
    std::size_t index = 0;
    // Only touched on this worker's thread.
    bool stopping = false;
    std::unordered_set<connection_handle*> connections;
    boost::asio::steady_timer sweeper{ioc};
    // Read from the shutdown timer on another worker.
    std::atomic<std::size_t> connection_count{0};
};

} // namespace ag
