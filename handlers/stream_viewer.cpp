#include "handlers/stream_viewer.hpp"

namespace ag::stream_viewer {

boost::asio::awaitable<bool> ending(websocket_connection& conn, const state_base& st, token_watch& token) {
    if (st.peer_gone)
        co_return true;
    if (st.shutdown) {
        co_await conn.close(1001, "server shutting down");
        co_return true;
    }
    if (token.rotated()) {
        co_await conn.close(1008, "token rotated");
        co_return true;
    }
    co_return false;
}

} // namespace ag::stream_viewer
