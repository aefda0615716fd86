#pragma once
// A response body produced by blocking code on the pool (a git pack may take seconds of libgit2 work, a CAR
// export reads every block). The producer writes into a bounded buffer and waits while it is full; the
// response's coroutine drains it. A slow client holds a pool thread, never an I/O thread, and the pool
// grows for it (runtime/blocking_pool.hpp).
#include "gateway/request.hpp"

#include <functional>
#include <string_view>

namespace ag {

class blocking_pool;

class producer_sink {
public:
    producer_sink() = default;
    producer_sink(const producer_sink&) = delete;
    producer_sink& operator=(const producer_sink&) = delete;
    virtual ~producer_sink() = default;
    // Blocks while the buffer is full; false once the client has gone (stop producing).
    virtual bool write(std::string_view data) = 0;
};

// Starts `produce` on the pool when the response body is written. What it throws cuts the response short.
std::function<boost::asio::awaitable<void>(body_writer&)>
stream_from_pool(blocking_pool& pool, std::function<void(producer_sink&)> produce,
                 std::size_t max_buffered = 1 << 20);

} // namespace ag
