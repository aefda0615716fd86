#pragma once
// A WebSocket after the upgrade, independent of the transport under it (TCP, TLS, unix socket).
// One writer at a time: callers serialise their own sends (issue a send only after the previous one
// completed).
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace ag {

class websocket_connection {
public:
    virtual ~websocket_connection() = default;
    virtual boost::asio::awaitable<boost::system::error_code> send_text(std::string_view message) = 0;
    virtual boost::asio::awaitable<boost::system::error_code> send_binary(std::string_view message) = 0;
    // The next whole message (text or binary: see last_was_binary()).
    virtual boost::asio::awaitable<std::pair<boost::system::error_code, std::string>> read_message() = 0;
    // Whether the message read_message() returned last was a binary one.
    virtual bool last_was_binary() const = 0;
    virtual boost::asio::awaitable<void> close(std::uint16_t code, std::string_view reason) = 0;

    // Raw bytes on the stream under the WebSocket, for an endpoint that frames messages itself (the log
    // stream writes one encoded frame to many clients). Once used, the methods above must not be.
    virtual boost::asio::awaitable<boost::system::error_code> write_raw(std::string_view bytes) = 0;
    virtual boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>>
    read_raw(char* data, std::size_t size) = 0;
    // Cancels pending I/O; the connection is finished.
    virtual void abort() = 0;

    // Called on the connection's thread when the daemon shuts down; unset, the connection is aborted.
    std::function<void()> on_shutdown;
};

} // namespace ag
