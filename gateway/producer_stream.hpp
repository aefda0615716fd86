#pragma once
// A response body produced by blocking code on a thread of its own (a git pack may take seconds of libgit2
// work and must not hold a pool thread while a slow client reads). The producer writes into a bounded buffer
// and waits when it is full; the response's coroutine drains it.
#include "gateway/request.hpp"

#include <chrono>
#include <functional>
#include <string_view>

namespace ag {

class thread_sink {
public:
    virtual ~thread_sink() = default;
    // Blocks while the buffer is full; false once the client has gone (stop producing).
    virtual bool write(std::string_view data) = 0;
};

// Starts `produce` on a new thread when the response body is written.
std::function<boost::asio::awaitable<void>(body_writer&)>
stream_from_thread(std::function<void(thread_sink&)> produce, std::size_t max_buffered = 1 << 20);

} // namespace ag

namespace ag {
// At shutdown: waits (up to `max`) for producer threads still running; their clients are gone by then, so
// each stops at its next write.
void join_stream_threads(std::chrono::milliseconds max);
} // namespace ag
