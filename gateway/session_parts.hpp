#pragma once
// Internal to gateway/: the pieces of one connection's life that gateway/http_session.cpp puts together.
// Each lives in its own file and compiles once, against byte_stream rather than a transport.
#include "gateway/byte_stream.hpp"
#include "gateway/request.hpp"
#include "runtime/use_tuple.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ag {

struct connection_handle;
struct route;

namespace session_detail {

using namespace std::chrono_literals;
// A body read or response write that makes no progress for this long ends the connection.
constexpr auto io_timeout = 60s;
// A request's header block must arrive whole within this (the first one's counted from the connection's
// start); a connection idle between requests waits this long for the next one's first byte.
constexpr auto header_timeout = 10s;
constexpr auto idle_timeout = 60s;
// How long, and for how many bytes, a closing connection still reads what its client sends
// (http_session.cpp).
constexpr auto linger_time = 2s;
constexpr std::size_t linger_bytes = 64 << 20;
constexpr std::size_t header_limit = 16 * 1024;

using header_list = std::vector<std::pair<std::string, std::string>>;

// A connection's next header block is due by `at`. The first request's is counted from the connection's
// start; read_request_head() sets it for each later one from its first byte.
struct head_deadline {
    std::chrono::steady_clock::time_point at;
    bool first_request = true;
};

// gateway/request_head.cpp: the next request's head, read whole into `buffer` (the connection's), checked for
// framing a proxy in front of us could read differently (a folded line, a Transfer-Encoding other than
// chunked alone, chunked with a Content-Length, a missing or repeated Host) and parsed into `parser`. A bad
// head is answered 400 here. Returns the head's size, or nothing when the connection is to close: the
// client went, fell silent, or sent a bad head.
boost::asio::awaitable<std::optional<std::size_t>>
read_request_head(byte_stream& stream, connection_handle& conn, boost::beast::flat_buffer& buffer,
                  boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                  head_deadline& deadline);

// How a read ended that is no client's fault to report: it closed, reset, fell silent, or we stopped.
bool quiet_end(const boost::system::error_code& ec);

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
