#pragma once
// One I/O thread with its own io_context. Internal to gateway/: only its .cpp files include Asio I/O headers.
#include "gateway/connection_handle.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <unordered_set>

namespace ag {

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
