#pragma once
// Plain routes: a method, a pattern of literal and {param} segments, a handler. Built once at start, then
// only read (safe from every I/O thread).
#include "gateway/request.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ag {

class websocket_connection;
namespace metrics {
struct route_stats;
}

using http_handler = std::function<boost::asio::awaitable<response>(request&)>;
// Runs after the upgrade; the connection closes when it returns.
using websocket_handler = std::function<boost::asio::awaitable<void>(websocket_connection&, request&)>;
// Runs before the upgrade: a response (or a thrown api_error) is sent instead of 101; nullopt lets the
// upgrade go on. What it prepared for the handler goes in request::upgrade_state.
using websocket_check = std::function<boost::asio::awaitable<std::optional<response>>(request&)>;

// Who may call a route. Every agent's route (/v0/agents/…) takes the token; a few literal others may not.
enum class route_access {
    token,
    open,     // anyone (the platform key's JWKS, the OpenAPI document)
    loopback, // a connection to a loopback address or unix socket, without X-Forwarded-For (GET /metrics);
              // others get 404
};

struct route_options {
    std::size_t body_limit = 64 * 1024; // larger bodies get 413 before they are read
    std::string too_large_message = "Request body too large";
    // 400 instead of 413 for a body over the limit, where the contract calls it bad input (docs/api.md §15: a
    // config over 1 MiB).
    bool too_large_is_bad_input = false;
    // The handler reads the body itself through request::body_stream, up to body_limit, instead of receiving
    // it whole in request::body.
    bool stream_body = false;
    route_access access =
        route_access::token; // open: a literal path not under /v0/agents; loopback: outside /v0
};

struct route {
    method verb;
    std::vector<std::string> segments; // "{name}" captures one segment
    http_handler handler;
    websocket_handler ws_handler; // set for WebSocket routes (GET with Upgrade)
    websocket_check ws_check;     // optional, for WebSocket routes
    route_options options;
    metrics::route_stats* stats = nullptr; // set once metrics are enabled

    // The pattern as added, normalised: "/" + the segments joined by "/" ("{name}" kept).
    std::string pattern() const;
};

class router {
public:
    void add(method verb, std::string_view pattern, http_handler handler, route_options options = {});
    void add_websocket(std::string_view pattern, websocket_handler handler, websocket_check check = {});

    struct match_result {
        const route* found = nullptr;
        std::vector<std::pair<std::string, std::string>> params;
        std::string allow; // when the path matched other methods only: their list, for 405
    };
    // HEAD matches GET routes. WebSocket routes match only when `upgrade` is set. `parts` is
    // split_path(path).
    match_result match(method verb, const std::vector<std::string_view>& parts, bool upgrade) const;
    match_result match(method verb, std::string_view path, bool upgrade) const;
    // The route at exactly `path` that takes no token (added with access open or loopback), or null. A
    // handful of literal paths: cheap enough for every request.
    const route* match_open(method verb, std::string_view path) const;
    // Every route, for attaching what it records. Before serving.
    std::vector<route>& all() { return routes_; }
    // Every route, in the order added (the API description is checked against it).
    const std::vector<route>& all() const { return routes_; }

private:
    std::vector<route> routes_;
    std::vector<std::pair<std::string, std::size_t>> open_; // literal path, index in routes_
};

// The non-empty segments of a path, as views into it.
std::vector<std::string_view> split_path(std::string_view path);

} // namespace ag
