#pragma once
// docs/api.md §3-§5 before any body is read, as ordered phases: front door (does a service of the agent take
// it?), CORS preflight, health, host, path check (proxied requests), authentication (with rate limiting),
// cross-site, agent id and route, body limit. The first phase that answers ends it.
// Pure of I/O, so it is unit-tested directly (tests/unit/dispatch_test.cpp).
#include "gateway/front_door.hpp"
#include "gateway/request.hpp"
#include "gateway/router.hpp"

#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag {

struct config;
namespace auth {
class token_store;
class failure_limiter;
} // namespace auth

// What dispatch consults: the configuration and the two stores that decide who may come in.
struct gate {
    const config& cfg;
    auth::token_store& tokens;
    auth::failure_limiter& failures;
    front_door* door = nullptr; // where requests outside /v0 go; none: they get 404
};

// small_vector's destructor is not declared noexcept, though it cannot throw:
// NOLINTNEXTLINE(bugprone-exception-escape)
struct dispatch_input {
    method verb = method::get;
    std::string_view target;
    std::string_view host;
    // Every Authorization and Cookie header (almost always one each: no allocation for that).
    boost::container::small_vector<std::string_view, 2> authorizations;
    boost::container::small_vector<std::string_view, 2> cookies;
    std::string_view origin;
    std::string_view forwarded_proto;
    std::string_view forwarded_for; // every X-Forwarded-For value, joined by commas
    bool preflight = false;         // OPTIONS with Access-Control-Request-Method
    bool has_body = false;          // a Content-Length over 0, or chunked
    bool upgrade = false;           // a WebSocket upgrade request
    std::optional<std::uint64_t> content_length;
    const std::string* remote_address = nullptr; // the connection's peer
    bool secure = false;
    bool loopback = false; // the connection came to a loopback address or a unix socket
};

struct dispatch_result {
    std::optional<response> immediate; // answer this without reading the body
    const route* target = nullptr;
    std::optional<pass_target> pass; // instead of a route: the front door takes the request
    request req;                     // path, query, params, remote address (no body yet)
    std::vector<std::pair<std::string, std::string>> headers; // added to whatever the answer is
};

dispatch_result dispatch(const dispatch_input& in, const router& routes, const gate& g);

// The request target in origin form ("/path?query"), which is how a proxied request is matched and forwarded
// (docs/api.md §4): an absolute-form target ("http://host/path?q") gives its path and query, "*" stays.
// Nullopt for anything else (authority form, a relative path), which is not passed on.
std::optional<std::string_view> origin_form(std::string_view target);

} // namespace ag
