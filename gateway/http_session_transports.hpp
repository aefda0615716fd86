#pragma once
// One spawn function per transport, each compiled in its own translation unit (see http_session_impl.hpp).
#include "gateway/http_session.hpp"

#include <string>

namespace ag {

void spawn_tcp_session(session_env& env, boost::asio::ip::tcp::socket socket, std::string remote);
void spawn_tls_session(session_env& env, boost::asio::ip::tcp::socket socket, std::string remote);
void spawn_unix_session(session_env& env, boost::asio::local::stream_protocol::socket socket);
void spawn_unix_tls_session(session_env& env, boost::asio::local::stream_protocol::socket socket);

} // namespace ag
