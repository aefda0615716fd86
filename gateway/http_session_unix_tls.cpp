#include "gateway/http_session_impl.hpp"
#include "gateway/http_session_transports.hpp"

namespace ag {
using namespace session_detail;

void spawn_unix_tls_session(session_env& env, boost::asio::local::stream_protocol::socket socket) {
    spawn(env, beast::ssl_stream<unix_stream>(unix_stream(std::move(socket)), *env.tls), "unix", true);
}

} // namespace ag
