#pragma once
// One coroutine per connection: read headers -> dispatch -> read body -> handler -> write, until the peer
// goes, the connection idles out, or the server stops.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace boost::asio::ssl {
class context;
}

namespace ag {

class connection_limiter;
class router;
struct services;
struct worker;

struct session_env {
    const router& routes;
    services& svc;
    worker& owner;
    boost::asio::ssl::context* tls = nullptr; // every listener speaks TLS when set
    connection_limiter* limiter = nullptr;    // connections per client address
};

void start_session(session_env& env, boost::asio::ip::tcp::socket socket);
void start_session(session_env& env, boost::asio::local::stream_protocol::socket socket);

} // namespace ag
