#include "support/ws_client.hpp"
#include "runtime/net.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include <stdexcept>

namespace test {
using namespace ag::net;

struct ws_client::impl {
    asio::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    bool timed_out = false;
    int close_code = 0;
};

namespace {

void connect_and_upgrade(websocket::stream<beast::tcp_stream>& ws, int port, const std::string& target,
                         const header_list& headers, int receive_buffer, websocket::response_type& res,
                         boost::system::error_code& ec) {
    auto& sock = beast::get_lowest_layer(ws).socket();
    sock.open(asio::ip::tcp::v4());
    if (receive_buffer > 0)
        sock.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws).connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        for (const auto& [k, v] : headers)
            req.set(k, v);
    }));
    ws.handshake(res, "127.0.0.1", target, ec);
    beast::get_lowest_layer(ws).expires_never();
}

} // namespace

ws_client::ws_client(int port, const std::string& target, const header_list& headers, int receive_buffer)
    : impl_(std::make_unique<impl>()) {
    websocket::response_type res;
    boost::system::error_code ec;
    connect_and_upgrade(impl_->ws, port, target, headers, receive_buffer, res, ec);
    if (ec)
        throw std::runtime_error("upgrade refused: " + std::to_string(res.result_int()) + " " + ec.message());
}

ws_client::~ws_client() = default;

std::optional<std::string> ws_client::read(std::chrono::milliseconds wait) {
    if (impl_->timed_out || impl_->close_code)
        return std::nullopt;
    beast::flat_buffer buf;
    std::optional<boost::system::error_code> result;
    impl_->ws.async_read(buf, [&](boost::system::error_code ec, std::size_t) { result = ec; });
    impl_->ioc.restart();
    impl_->ioc.run_for(wait);
    if (!result) {
        impl_->timed_out = true;
        beast::get_lowest_layer(impl_->ws).cancel();
        impl_->ioc.restart();
        impl_->ioc.run_for(std::chrono::seconds(1));
        return std::nullopt;
    }
    if (*result) {
        if (*result == websocket::error::closed)
            impl_->close_code = impl_->ws.reason().code;
        else
            impl_->close_code = -1; // the connection dropped without a close frame
        return std::nullopt;
    }
    return beast::buffers_to_string(buf.data());
}

int ws_client::close_code() const {
    return impl_->close_code;
}
bool ws_client::send(const std::string& text) {
    boost::system::error_code ec;
    beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(5));
    impl_->ws.text(true);
    impl_->ws.write(asio::buffer(text), ec);
    beast::get_lowest_layer(impl_->ws).expires_never();
    return !ec;
}

bool ws_client::send_binary(const std::string& data) {
    boost::system::error_code ec;
    beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(5));
    impl_->ws.binary(true);
    impl_->ws.write(asio::buffer(data), ec);
    beast::get_lowest_layer(impl_->ws).expires_never();
    return !ec;
}

bool ws_client::last_binary() const {
    return impl_->ws.got_binary();
}

std::string ws_client::close_reason() const {
    const auto& r = impl_->ws.reason().reason;
    return std::string(r.data(), r.size());
}

void ws_client::send_close(int code, const std::string& reason) {
    // Beast's close() writes our close frame and reads until the peer's: its code lands in reason().
    boost::system::error_code ec;
    beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(5));
    impl_->ws.close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), ec);
    if (!ec || ec == websocket::error::closed)
        impl_->close_code = impl_->ws.reason().code;
}

bool ws_client::timed_out() const {
    return impl_->timed_out;
}

void ws_client::close() {
    boost::system::error_code ec;
    beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(3));
    impl_->ws.close(websocket::close_code::normal, ec);
}

int ws_upgrade_status(int port, const std::string& target, const header_list& headers) {
    asio::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    websocket::response_type res;
    boost::system::error_code ec;
    connect_and_upgrade(ws, port, target, headers, 0, res, ec);
    return ec ? static_cast<int>(res.result_int()) : 101;
}

} // namespace test
