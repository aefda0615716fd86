#pragma once
// Internal to gateway/: the pieces of one connection's life that gateway/http_session.cpp puts together.
// Each lives in its own file and compiles once, against byte_stream rather than a transport.
#include "gateway/byte_stream.hpp"
#include "gateway/request.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ag {

struct connection_handle;
struct route;

namespace session_detail {

using namespace std::chrono_literals;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
// A body read or response write that makes no progress for this long ends the connection.
constexpr auto io_timeout = 60s;

using header_list = std::vector<std::pair<std::string, std::string>>;

// gateway/response_writer.cpp: the response on the wire — small bodies formatted in one buffer, files with
// sendfile where the transport has a socket, streamed bodies chunked. False when the response could not be
// sent whole: the caller must reset the connection rather than let it look complete.
boost::asio::awaitable<bool> write_response(byte_stream& stream, connection_handle& conn, response& res,
                                            bool keep_alive, bool head_only, const header_list& extra,
                                            std::uint64_t& bytes, unsigned version = 11);

// gateway/websocket_upgrade.cpp: accepts the upgrade and runs the route's WebSocket handler until it
// returns. `leftover` is what the client sent behind its upgrade request.
boost::asio::awaitable<void>
run_websocket(byte_stream stream, const route& r, request req,
              boost::beast::http::request<boost::beast::http::string_body> upgrade, connection_handle& conn,
              const header_list& extra, std::string leftover);

} // namespace session_detail
} // namespace ag
