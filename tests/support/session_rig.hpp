#pragma once
// The HTTP session with no socket: the configuration, token, router and worker a session needs, with routes
// of every kind a session serves (whole and streamed bodies, limits, chunked answers, a producer that fails,
// a handler that throws). Shared by tests/unit/session_test.cpp and fuzz/http_session.cpp.
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/errors.hpp"
#include "gateway/http_session.hpp"
#include "gateway/router.hpp"
#include "gateway/worker.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

// In namespace ag (test code only), so its body names the daemon's types as the daemon does.
namespace ag {

struct session_rig {
    config cfg;
    auth::token_store tokens;
    auth::failure_limiter failures;
    gate front{cfg, tokens, failures};
    router routes;
    worker owner;
    session_env env{routes, front, owner};

    explicit session_rig(const std::string& token = "session-token")
        : tokens(auth::token_store::fixed(token)) {
        routes.add(method::post, "/v0/echo", [](request& req) -> boost::asio::awaitable<response> {
            response r;
            r.content_type = "text/plain";
            r.body = req.body;
            co_return r;
        });
        routes.add(method::get, "/v0/hello", [](request&) -> boost::asio::awaitable<response> {
            co_return json_response({{"hello", "world"}});
        });
        route_options small;
        small.body_limit = 10;
        routes.add(
            method::post, "/v0/small",
            [](request&) -> boost::asio::awaitable<response> { co_return response{}; }, small);
        route_options streamed;
        streamed.body_limit = 100;
        streamed.stream_body = true;
        routes.add(
            method::post, "/v0/count",
            [](request& req) -> boost::asio::awaitable<response> {
                std::size_t n = 0;
                for (;;) {
                    auto piece = co_await req.body_stream->read_some();
                    if (!piece)
                        break;
                    n += piece->size();
                }
                co_return json_response({{"bytes", n}});
            },
            streamed);
        routes.add(method::get, "/v0/big", [](request&) -> boost::asio::awaitable<response> {
            response r;
            r.stream = [](body_writer& w) -> boost::asio::awaitable<void> {
                for (int i = 0; i < 100; ++i) {
                    bool written = co_await w.write(std::string(1000, static_cast<char>('a' + i % 26)));
                    if (!written)
                        co_return;
                }
            };
            co_return r;
        });
        routes.add(method::get, "/v0/many-headers", [](request&) -> boost::asio::awaitable<response> {
            response r;
            for (int i = 0; i < 20; ++i)
                r.headers.emplace_back("X-Header-" + std::to_string(i), "value");
            r.stream = [](body_writer& w) -> boost::asio::awaitable<void> { co_await w.write("body"); };
            co_return r;
        });
        routes.add(method::get, "/v0/broken", [](request&) -> boost::asio::awaitable<response> {
            response r;
            r.stream = [](body_writer& w) -> boost::asio::awaitable<void> {
                co_await w.write("first part");
                throw std::runtime_error("the producer failed");
            };
            co_return r;
        });
        routes.add(method::get, "/v0/fails", [](request&) -> boost::asio::awaitable<response> {
            throw api_error(error_kind::conflict, "Taken").with_detail("inode 42 is locked");
        });
    }
};

} // namespace ag
