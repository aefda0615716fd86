#include "gateway/http_session.hpp"

#include "gateway/http_session_transports.hpp"

#include <boost/asio/ip/tcp.hpp>

namespace ag {

void start_session(session_env& env, boost::asio::ip::tcp::socket socket) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    std::string remote = ec ? "unknown" : ep.address().to_string();
    socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    if (env.tls)
        spawn_tls_session(env, std::move(socket), std::move(remote));
    else
        spawn_tcp_session(env, std::move(socket), std::move(remote));
}

void start_session(session_env& env, boost::asio::local::stream_protocol::socket socket) {
    if (env.tls)
        spawn_unix_tls_session(env, std::move(socket));
    else
        spawn_unix_session(env, std::move(socket));
}

} // namespace ag
