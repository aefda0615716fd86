#include "gateway/http_session_impl.hpp"
#include "gateway/http_session_transports.hpp"

namespace ag {
using namespace session_detail;

void spawn_unix_session(session_env& env, boost::asio::local::stream_protocol::socket socket) {
    spawn(env, unix_stream(std::move(socket)), "unix", false);
}

} // namespace ag
