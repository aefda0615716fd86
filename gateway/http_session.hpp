#pragma once
// One coroutine per connection: read headers -> dispatch -> read body -> handler -> write, until the peer
// goes, the connection idles out, or the server stops. Compiled once, over byte_stream; the transport is the
// caller's choice (a socket here, memory in tests/unit/session_test.cpp).
#include "gateway/byte_stream.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <string>

namespace boost::asio::ssl {
class context;
}

namespace ag {

class connection_limiter;
struct http_metrics;
class router;
struct gate;
struct worker;

struct session_env {
    const router& routes;
    const gate& front;
    worker& owner;
    boost::asio::ssl::context* tls = nullptr; // every listener speaks TLS when set
    connection_limiter* limiter = nullptr;    // connections per client address
    const http_metrics* metrics = nullptr;    // none: metrics are off
};

void start_session(session_env& env, boost::asio::ip::tcp::socket socket);
void start_session(session_env& env, boost::asio::local::stream_protocol::socket socket);
// Any transport; `remote` is the peer's address as the access log and the limits see it; `loopback` says
// the connection came to a loopback address (routes with route_access::loopback serve it).
void start_session(session_env& env, byte_stream stream, std::string remote, bool loopback = false);

} // namespace ag
