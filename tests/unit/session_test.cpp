// The HTTP session on an in-memory stream (tests/support/memory_transport.hpp): framing, limits, keep-alive,
// pipelining, 100-continue, upgrade, a slow reader and a response cut short, with no socket and no thread.
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/errors.hpp"
#include "gateway/http_session.hpp"
#include "gateway/router.hpp"
#include "gateway/websocket_session.hpp"
#include "gateway/worker.hpp"
#include "runtime/net.hpp"
#include "support/memory_transport.hpp"
#include "support/session_rig.hpp"

#include <doctest/doctest.h>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

using namespace ag;
using namespace ag::net;

namespace {

constexpr std::string_view auth_header = "Authorization: Bearer session-token\r\n";

struct session_fixture : session_rig {
    session_fixture() {
        routes.add_websocket("/v0/ws", [](websocket_connection& ws, request&) -> asio::awaitable<void> {
            auto [ec, msg] = co_await ws.read_message();
            if (!ec)
                co_await ws.send_text("echo: " + msg);
        });
    }

    test::memory_client connect() {
        test::memory_client c{owner.ioc};
        wires.push_back(c.wire);
        start_session(env, byte_stream(c.server_end()), "192.0.2.7");
        return c;
    }

    // Every client goes, and every session ends, before the worker does (its sessions refer to it).
    ~session_fixture() {
        test::memory_client any{owner.ioc};
        for (auto& w : wires) {
            w->client_closed = true;
            test::memory_transport::deliver(owner.ioc, *w);
        }
        bool ended = any.run_until([&] { return owner.connection_count.load() == 0; });
        CHECK_MESSAGE(ended, "a session did not end after its client closed");
        owner.ioc.restart();
        owner.ioc.poll();
    }
    std::vector<std::shared_ptr<test::memory_wire>> wires;
};

// Whole responses in `wire`, as far as they go: for each, the status and the body (Content-Length or
// chunked). Stops at the first incomplete one.
struct parsed_response {
    unsigned status = 0;
    std::string head;
    std::string body;
};
std::vector<parsed_response> parse_responses(std::string_view wire) {
    std::vector<parsed_response> out;
    while (!wire.empty()) {
        auto end = wire.find("\r\n\r\n");
        if (end == std::string_view::npos)
            break;
        parsed_response r;
        r.head = std::string(wire.substr(0, end + 2));
        r.status = static_cast<unsigned>(std::stoi(std::string(wire.substr(9, 3))));
        std::string_view rest = wire.substr(end + 4);
        auto cl = r.head.find("Content-Length: ");
        if (r.head.find("Transfer-Encoding: chunked") != std::string::npos) {
            for (;;) {
                auto line = rest.find("\r\n");
                if (line == std::string_view::npos)
                    return out;
                std::size_t size = std::stoul(std::string(rest.substr(0, line)), nullptr, 16);
                if (rest.size() < line + 2 + size + 2)
                    return out;
                r.body.append(rest.substr(line + 2, size));
                rest.remove_prefix(line + 2 + size + 2);
                if (size == 0)
                    break;
            }
        } else if (cl != std::string::npos) {
            std::size_t size = std::stoul(r.head.substr(cl + 16));
            if (rest.size() < size)
                break;
            r.body = std::string(rest.substr(0, size));
            rest.remove_prefix(size);
        } else if (r.status != 100 && r.status != 101 && r.status != 204) {
            break;
        }
        out.push_back(std::move(r));
        wire = rest;
    }
    return out;
}

// Sends `request` on a connection of its own; the one answer, once the session has ended the connection.
parsed_response answer_then_close(session_fixture& f, const std::string& request) {
    auto c = f.connect();
    c.send(request);
    REQUIRE(c.run_until([&] { return c.ended(); }));
    auto rs = parse_responses(c.take());
    REQUIRE(rs.size() == 1);
    return rs[0];
}

std::string get(std::string_view path, std::string_view extra = "") {
    return fmt::format("GET {} HTTP/1.1\r\nHost: h\r\n{}{}\r\n", path, auth_header, extra);
}

} // namespace

TEST_CASE("session: keep-alive and pipelining answer every request, in order, on one connection") {
    session_fixture f;
    auto c = f.connect();
    c.send(get("/v0/hello"));
    REQUIRE(c.run_until([&] { return parse_responses(c.wire->from_server).size() == 1; }));
    c.send(get("/v0/hello") + "POST /v0/echo HTTP/1.1\r\nHost: h\r\n" + std::string(auth_header) +
           "Content-Length: 5\r\n\r\nabcde" + get("/v0/nothing"));
    REQUIRE(c.run_until([&] { return parse_responses(c.wire->from_server).size() == 4; }));
    auto rs = parse_responses(c.take());
    CHECK(rs[0].body == R"({"hello":"world"})");
    CHECK(rs[1].body == R"({"hello":"world"})");
    CHECK(rs[2].body == "abcde");
    CHECK(rs[3].status == 404);
    CHECK_FALSE(c.ended());
    c.close();
    REQUIRE(c.run_until([&] { return c.ended(); }));
    CHECK(c.wire->server_shut);
}

TEST_CASE("session: malformed and smuggling-prone requests get 400 and the connection closes") {
    session_fixture f;
    for (std::string bad : {
             std::string("NOT A REQUEST\r\n\r\n"),
             std::string("GET /v0/hello HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n"),
             std::string("POST /v0/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: "
                         "chunked\r\n\r\n"),
             std::string("POST /v0/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
             std::string("GET /v0/hello HTTP/1.1\r\n\r\n"),
             std::string("GET /v0/hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
             "GET /v0/hello HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(17 * 1024, 'x') + "\r\n\r\n",
         }) {
        CAPTURE(bad.substr(0, 60));
        auto r = answer_then_close(f, bad);
        CHECK(r.status == 400);
        CHECK(r.body.starts_with(R"({"error":)"));
        CHECK(r.head.find("Connection: close") != std::string::npos);
    }
}

TEST_CASE("session: body limits — 413 before the body for a declared length, 413 mid-body for chunked") {
    session_fixture f;
    CHECK(answer_then_close(f, "POST /v0/small HTTP/1.1\r\nHost: h\r\n" + std::string(auth_header) +
                                   "Content-Length: 11\r\n\r\n")
              .status == 413);
    CHECK(answer_then_close(f, "POST /v0/count HTTP/1.1\r\nHost: h\r\n" + std::string(auth_header) +
                                   "Transfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'x') +
                                   "\r\n40\r\n" + std::string(64, 'y') + "\r\n0\r\n\r\n")
              .status == 413);
    {
        auto c = f.connect();
        c.send("POST /v0/count HTTP/1.1\r\nHost: h\r\n" + std::string(auth_header) +
               "Transfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'x') + "\r\n0\r\n\r\n");
        REQUIRE(c.run_until([&] { return parse_responses(c.wire->from_server).size() == 1; }));
        CHECK(parse_responses(c.take())[0].body == R"({"bytes":64})");
    }
}

TEST_CASE("session: Expect: 100-continue is answered before the body is sent") {
    session_fixture f;
    auto c = f.connect();
    c.send("POST /v0/echo HTTP/1.1\r\nHost: h\r\n" + std::string(auth_header) +
           "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    REQUIRE(c.run_until([&] { return c.wire->from_server.find("\r\n\r\n") != std::string::npos; }));
    CHECK(c.take().starts_with("HTTP/1.1 100 Continue\r\n"));
    c.send("ping");
    REQUIRE(c.run_until([&] { return parse_responses(c.wire->from_server).size() == 1; }));
    CHECK(parse_responses(c.take())[0].body == "ping");
}

TEST_CASE("session: an unauthenticated 100-continue is refused without asking for the body") {
    session_fixture f;
    auto c = f.connect();
    c.send("POST /v0/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    REQUIRE(c.run_until([&] { return c.ended(); }));
    auto out = c.take();
    CHECK(out.starts_with("HTTP/1.1 401 "));
    CHECK(out.find("100 Continue") == std::string::npos);
}

TEST_CASE("session: a reader that takes 7 bytes at a time still gets every response whole") {
    session_fixture f;
    auto c = f.connect();
    c.wire->max_write = 7;
    c.send(get("/v0/big") + get("/v0/hello"));
    REQUIRE(c.run_until([&] { return parse_responses(c.wire->from_server).size() == 2; }));
    auto rs = parse_responses(c.take());
    REQUIRE(rs[0].body.size() == 100'000);
    CHECK(rs[0].body.substr(0, 3) == "aaa");
    CHECK(rs[0].body.substr(99'997) == std::string(3, static_cast<char>('a' + 99 % 26)));
    CHECK(rs[1].body == R"({"hello":"world"})");
}

TEST_CASE("session: a header of many fields goes out in one write") {
    // Split in two, the second small segment waited for the client's delayed ACK: 1 MiB file GETs ran 35 %
    // slower (bench/RESULTS.md, issue 11).
    session_fixture f;
    auto c = f.connect();
    c.send(get("/v0/many-headers"));
    REQUIRE(c.run_until([&] { return parse_responses(c.wire->from_server).size() == 1; }));
    auto out = c.take();
    REQUIRE(!c.wire->writes.empty());
    CHECK(c.wire->writes.front() == out.find("\r\n\r\n") + 4);
    CHECK(out.find("X-Header-19: value\r\n") != std::string::npos);
}

TEST_CASE("session: a streamed response whose producer fails ends with a reset, never a clean end") {
    session_fixture f;
    auto c = f.connect();
    c.send(get("/v0/broken"));
    REQUIRE(c.run_until([&] { return c.ended(); }));
    CHECK(c.wire->server_reset);
    CHECK_FALSE(c.wire->server_shut);
    auto out = c.take();
    CHECK(out.find("first part") != std::string::npos);
    CHECK(out.find("\r\n0\r\n\r\n") == std::string::npos); // no last chunk
}

TEST_CASE("session: a handler's api_error answers with its status and message, never its detail") {
    session_fixture f;
    auto c = f.connect();
    c.send(get("/v0/fails"));
    REQUIRE(c.run_until([&] { return parse_responses(c.wire->from_server).size() == 1; }));
    auto r = parse_responses(c.take())[0];
    CHECK(r.status == 409);
    CHECK(r.body == R"({"error":"Taken"})");
}

TEST_CASE("session: HTTP/1.0 closes after its answer unless it asks to keep the connection") {
    session_fixture f;
    auto c = f.connect();
    c.send("GET /v0/hello HTTP/1.0\r\n" + std::string(auth_header) + "\r\n");
    REQUIRE(c.run_until([&] { return c.ended(); }));
    CHECK(parse_responses(c.take()).size() == 1);

    auto k = f.connect();
    k.send("GET /v0/hello HTTP/1.0\r\nConnection: keep-alive\r\n" + std::string(auth_header) + "\r\n");
    REQUIRE(k.run_until([&] { return parse_responses(k.wire->from_server).size() == 1; }));
    CHECK(k.take().find("Connection: keep-alive") != std::string::npos);
    CHECK_FALSE(k.ended());
}

TEST_CASE("session: a WebSocket upgrade, with a frame sent right behind the request") {
    session_fixture f;
    auto c = f.connect();
    // A masked text frame "hi" (RFC 6455 §5.3: mask 0x01020304).
    std::string frame = {'\x81', '\x82', '\x01', '\x02', '\x03', '\x04', 'h' ^ 1, 'i' ^ 2};
    c.send(get("/v0/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") +
           frame);
    REQUIRE(c.run_until([&] { return c.wire->from_server.find("echo: hi") != std::string::npos; }));
    auto out = c.take();
    CHECK(out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    // The RFC's own example key and answer.
    CHECK(out.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
    auto body = out.substr(out.find("\r\n\r\n") + 4);
    CHECK(body.substr(0, 2) == std::string{'\x81', '\x08'}); // unmasked text frame, 8 bytes
}
