// The server core's own mechanisms, before any product endpoint uses them: WebSocket upgrades and streaming
// bodies in both directions. The real HTTP server (gateway/server: no API area, no child reaper) runs
// in-process on loopback with routes registered by the test.
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "gateway/server.hpp"
#include "gateway/websocket_session.hpp"
#include "runtime/net.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

using namespace ag::net;

namespace {

constexpr const char* token = "protocol-token";

// A server in this process, with whatever routes the test registers before start().
struct in_process_server {
    test::temp_dir dir;
    std::string root = dir.path;
    ag::config cfg;
    std::optional<ag::auth::token_store> tokens;
    std::unique_ptr<ag::server> srv;
    std::thread thread;
    unsigned short port = 0;

    in_process_server() {
        std::vector<std::string> args{"agent-gateway", "--listen", "127.0.0.1:0", "--root", root,
                                      "--token",       token,      "--log-level", "warn"};
        std::vector<const char*> argv;
        for (auto& a : args)
            argv.push_back(a.c_str());
        const char* envp[] = {nullptr};
        cfg = ag::parse_command_line(static_cast<int>(argv.size()), argv.data(), envp).cfg;
        tokens.emplace(ag::auth::token_store::fixed(token));
        srv = std::make_unique<ag::server>(cfg, *tokens);
    }
    ag::router& routes() { return srv->routes(); }
    void start() {
        auto bound = srv->bind();
        port = static_cast<unsigned short>(std::stoi(bound.front().substr(bound.front().rfind(':') + 1)));
        thread = std::thread([this] { srv->run(); });
    }
    ~in_process_server() {
        srv->request_stop();
        if (thread.joinable())
            thread.join();
    }
};

asio::ip::tcp::endpoint endpoint(unsigned short port) {
    return {asio::ip::make_address("127.0.0.1"), port};
}

// Connects `sock` to the server; every blocking read and write on it then gives up after 10 s, so a
// regression fails the test instead of hanging it.
void connect_bounded(asio::ip::tcp::socket& sock, unsigned short port) {
    sock.connect(endpoint(port));
    timeval tv{10, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

} // namespace

TEST_CASE("WebSocket routes: authenticated upgrade, messages both ways, refusal without a token") {
    in_process_server s;
    s.routes().add_websocket("/v0/agents/{agentId}/echo",
                             [](ag::websocket_connection& ws, ag::request&) -> asio::awaitable<void> {
                                 for (;;) {
                                     auto [ec, msg] = co_await ws.read_message();
                                     if (ec)
                                         co_return;
                                     auto failed = co_await ws.send_text("echo: " + msg);
                                     if (failed)
                                         co_return;
                                 }
                             });
    s.start();

    asio::io_context ioc;
    websocket::stream<asio::ip::tcp::socket> ws(ioc);
    connect_bounded(ws.next_layer(), s.port);
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(http::field::authorization, std::string("Bearer ") + token);
    }));
    ws.handshake("127.0.0.1", "/v0/agents/local/echo");
    for (int i = 0; i < 100; ++i) {
        ws.write(asio::buffer("message " + std::to_string(i)));
        beast::flat_buffer buf;
        ws.read(buf);
        CHECK(beast::buffers_to_string(buf.data()) == "echo: message " + std::to_string(i));
    }
    ws.close(websocket::close_code::normal);

    // Browsers authenticate WebSockets with ?token=.
    websocket::stream<asio::ip::tcp::socket> browser(ioc);
    connect_bounded(browser.next_layer(), s.port);
    browser.handshake("127.0.0.1", std::string("/v0/agents/local/echo?token=") + token);
    browser.write(asio::buffer(std::string("hi")));
    beast::flat_buffer buf;
    browser.read(buf);
    CHECK(beast::buffers_to_string(buf.data()) == "echo: hi");
    browser.close(websocket::close_code::normal);

    websocket::stream<asio::ip::tcp::socket> anon(ioc);
    connect_bounded(anon.next_layer(), s.port);
    websocket::response_type res;
    boost::system::error_code ec;
    anon.handshake(res, "127.0.0.1", "/v0/agents/local/echo", ec);
    CHECK(ec);
    CHECK(res.result_int() == 401);
    CHECK(res.body().find("Unauthorized") != std::string::npos);
}

TEST_CASE("streaming request bodies: read piece by piece, limit enforced while reading") {
    in_process_server s;
    auto count = [](ag::request& req) -> asio::awaitable<ag::response> {
        std::uint64_t bytes = 0, sum = 0, pieces = 0;
        for (;;) {
            auto piece = co_await req.body_stream->read_some();
            if (!piece)
                break;
            ++pieces;
            bytes += piece->size();
            for (unsigned char c : *piece)
                sum += c;
        }
        co_return ag::json_response({{"bytes", bytes}, {"sum", sum}, {"pieces", pieces}});
    };
    ag::route_options big;
    big.stream_body = true;
    big.body_limit = 64 << 20;
    s.routes().add(ag::method::post, "/v0/agents/{agentId}/count", count, big);
    ag::route_options small = big;
    small.body_limit = 1 << 20;
    s.routes().add(ag::method::post, "/v0/agents/{agentId}/count-small", count, small);
    s.start();

    std::string data(20 << 20, '\0');
    std::uint64_t expected_sum = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<char>(i * 31 + (i >> 12));
        expected_sum += static_cast<unsigned char>(data[i]);
    }
    auto send_chunked = [&](const std::string& target, std::size_t total) {
        asio::io_context ioc;
        asio::ip::tcp::socket sock(ioc);
        connect_bounded(sock, s.port);
        std::string head = "POST " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                           "\r\nTransfer-Encoding: chunked\r\n\r\n";
        asio::write(sock, asio::buffer(head));
        boost::system::error_code ec;
        for (std::size_t off = 0; off < total && !ec; off += 1 << 20) {
            std::size_t n = std::min<std::size_t>(1 << 20, total - off);
            char size[32];
            std::snprintf(size, sizeof size, "%zx\r\n", n);
            std::vector<asio::const_buffer> bufs{asio::buffer(size, std::strlen(size)),
                                                 asio::buffer(data.data() + off, n), asio::buffer("\r\n", 2)};
            asio::write(sock, bufs, ec);
        }
        if (!ec)
            asio::write(sock, asio::buffer(std::string("0\r\n\r\n")), ec);
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(sock, buf, res, ec);
        return res;
    };
    auto res = send_chunked("/v0/agents/local/count", data.size());
    REQUIRE(res.result_int() == 200);
    auto j = nlohmann::json::parse(res.body());
    CHECK(j["bytes"] == data.size());
    CHECK(j["sum"] == expected_sum);
    CHECK(j["pieces"].get<int>() > 100); // pieces, not one buffer

    auto over = send_chunked("/v0/agents/local/count-small", 4 << 20);
    CHECK(over.result_int() == 413);

    // With Content-Length and Expect: 100-continue, as curl sends large bodies.
    asio::io_context ioc;
    asio::ip::tcp::socket sock(ioc);
    connect_bounded(sock, s.port);
    std::string head = "POST /v0/agents/local/count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                       std::string(token) + "\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    asio::write(sock, asio::buffer(head));
    std::string got(25, '\0');
    asio::read(sock, asio::buffer(got));
    CHECK(got == "HTTP/1.1 100 Continue\r\n\r\n");
    asio::write(sock, asio::buffer(std::string("hello")));
    beast::flat_buffer buf;
    http::response<http::string_body> done;
    http::read(sock, buf, done);
    CHECK(nlohmann::json::parse(done.body())["bytes"] == 5);
}

TEST_CASE("streaming responses: chunked, in order, HEAD sends headers only") {
    in_process_server s;
    s.routes().add(ag::method::get, "/v0/agents/{agentId}/numbers",
                   [](ag::request&) -> asio::awaitable<ag::response> {
                       ag::response res;
                       res.content_type = "text/plain";
                       res.stream = [](ag::body_writer& out) -> asio::awaitable<void> {
                           for (int i = 0; i < 10000; ++i) {
                               bool written = co_await out.write(std::to_string(i) + "\n");
                               if (!written)
                                   co_return;
                           }
                       };
                       co_return res;
                   });
    s.start();

    asio::io_context ioc;
    asio::ip::tcp::socket sock(ioc);
    connect_bounded(sock, s.port);
    http::request<http::string_body> req{http::verb::get, "/v0/agents/local/numbers", 11};
    req.set(http::field::host, "x");
    req.set(http::field::authorization, std::string("Bearer ") + token);
    http::write(sock, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(sock, buf, res);
    CHECK(res.result_int() == 200);
    CHECK(res.chunked());
    std::string expected;
    for (int i = 0; i < 10000; ++i)
        expected += std::to_string(i) + "\n";
    CHECK(res.body() == expected);

    // The connection stays usable after a chunked response.
    req.method(http::verb::head);
    http::write(sock, req);
    http::response_parser<http::empty_body> head;
    head.skip(true);
    http::read(sock, buf, head);
    CHECK(head.get().result_int() == 200);
}
