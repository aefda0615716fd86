#include "gateway/router.hpp"
#include "gateway/session_parts.hpp"
#include "gateway/websocket_session.hpp"
#include "gateway/worker.hpp"
#include "runtime/net.hpp"
#include "util/log.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace ag {

// How Beast's WebSocket ends the stream under it (found by argument-dependent lookup): our orderly shutdown.
void teardown(boost::beast::role_type, byte_stream& stream, boost::system::error_code& ec) {
    stream.cancel();
    ec = {};
}
void beast_close_socket(byte_stream& stream) {
    stream.reset();
}
template <class TeardownHandler>
void async_teardown(boost::beast::role_type, byte_stream& stream, TeardownHandler&& handler) {
    stream.async_shutdown(std::forward<TeardownHandler>(handler));
}

} // namespace ag

#include <boost/beast/websocket/stream.hpp>

namespace ag::session_detail {
namespace {

class websocket_impl final : public websocket_connection {
public:
    explicit websocket_impl(byte_stream&& s)
        : ws_(std::move(s)) {}
    websocket::stream<byte_stream>& ws() { return ws_; }

    asio::awaitable<boost::system::error_code> send_text(std::string_view message) override {
        ws_.text(true);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(message.data(), message.size()), use_tuple);
        co_return ec;
    }
    asio::awaitable<boost::system::error_code> send_binary(std::string_view message) override {
        ws_.binary(true);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(message.data(), message.size()), use_tuple);
        co_return ec;
    }
    bool last_was_binary() const override { return ws_.got_binary(); }
    asio::awaitable<std::pair<boost::system::error_code, std::string>> read_message() override {
        beast::flat_buffer buf;
        auto [ec, n] = co_await ws_.async_read(buf, use_tuple);
        co_return std::make_pair(ec, beast::buffers_to_string(buf.data()));
    }
    asio::awaitable<void> close(std::uint16_t code, std::string_view reason) override {
        websocket::close_reason cr(code);
        cr.reason.assign(reason.data(), std::min<std::size_t>(reason.size(), 120));
        co_await ws_.async_close(cr, use_tuple);
    }
    asio::awaitable<boost::system::error_code> write_raw(std::string_view bytes) override {
        raw_ = true;
        auto [ec, n] =
            co_await asio::async_write(ws_.next_layer(), asio::buffer(bytes.data(), bytes.size()), use_tuple);
        co_return ec;
    }
    asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_raw(char* data,
                                                                                std::size_t size) override {
        raw_ = true;
        auto [ec, n] = co_await ws_.next_layer().async_read_some(asio::buffer(data, size), use_tuple);
        co_return std::make_pair(ec, n);
    }
    void abort() override { ws_.next_layer().cancel(); }
    bool raw() const { return raw_; }

private:
    websocket::stream<byte_stream> ws_;
    bool raw_ = false;
};

} // namespace

asio::awaitable<void> run_websocket(byte_stream stream, const route& r, request req,
                                    beast::http::request<beast::http::string_body> upgrade,
                                    connection_handle& conn, const header_list& extra, std::string leftover) {
    // Bytes the client sent right behind its upgrade request were read with the request's header.
    stream.unread(std::move(leftover));
    websocket_impl ws_conn(std::move(stream));
    auto& ws = ws_conn.ws();
    // What dispatch adds to every answer (the gw_token cookie for ?token=, CORS) goes on the 101 too.
    ws.set_option(websocket::stream_base::decorator([extra](websocket::response_type& res) {
        for (const auto& [k, v] : extra)
            res.insert(k, v);
    }));
    conn.expire_never(); // the WebSocket keeps its own timeouts and pings
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(1024 * 1024);
    // At shutdown an open WebSocket is cancelled at once like an idle connection; it has no response to
    // finish.
    conn.cancel = [&ws_conn] {
        if (ws_conn.on_shutdown)
            ws_conn.on_shutdown();
        else
            ws_conn.abort();
    };
    conn.idle = true;
    auto [ec] = co_await ws.async_accept(upgrade, use_tuple);
    if (ec)
        co_return;
    req.fields = &upgrade.base();
    try {
        co_await r.ws_handler(ws_conn, req);
    } catch (const std::exception& e) {
        log::error("websocket {}: {}", req.path, e.what());
    }
    if (!ws_conn.raw() && ws.is_open())
        co_await ws_conn.close(websocket::close_code::going_away, "");
}

} // namespace ag::session_detail
