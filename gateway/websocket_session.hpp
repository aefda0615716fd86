#pragma once
// A WebSocket after the upgrade, independent of the transport under it (TCP, TLS, unix socket).
// One writer at a time: callers serialise their own sends (issue a send only after the previous one
// completed).
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ag {

class websocket_connection {
public:
    virtual ~websocket_connection() = default;
    virtual boost::asio::awaitable<boost::system::error_code> send_text(std::string_view message) = 0;
    // The next whole message (text or binary).
    virtual boost::asio::awaitable<std::pair<boost::system::error_code, std::string>> read_message() = 0;
    virtual boost::asio::awaitable<void> close(std::uint16_t code, std::string_view reason) = 0;
};

} // namespace ag
