#pragma once
// One I/O thread with its own io_context. Internal to gateway/: only its .cpp files include Asio I/O headers.
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <unordered_set>

namespace ag {

// A live connection as the worker sees it, for shutdown: idle ones are cancelled at once, busy ones finish
// their response first.
struct connection_handle {
    bool idle = false;
    std::function<void()> cancel;
};

struct worker {
    boost::asio::io_context ioc{1};
    std::thread thread;
    std::size_t index = 0;
    // Only touched on this worker's thread.
    bool stopping = false;
    std::unordered_set<connection_handle*> connections;
    // Read from the shutdown timer on another worker.
    std::atomic<std::size_t> connection_count{0};
};

} // namespace ag
