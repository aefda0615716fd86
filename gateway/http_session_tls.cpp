#include "gateway/http_session_impl.hpp"
#include "gateway/http_session_transports.hpp"

namespace ag {
using namespace session_detail;

void spawn_tls_session(session_env& env, boost::asio::ip::tcp::socket socket, std::string remote) {
    spawn(env, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *env.tls),
          std::move(remote), true);
}

} // namespace ag
