#include "gateway/dispatch.hpp"

#include "auth/client_address.hpp"
#include "auth/credentials.hpp"
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/errors.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace ag {
namespace {

std::string_view host_without_port(std::string_view host) {
    if (host.starts_with("[")) {
        auto close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    auto colon = host.rfind(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool is_git_path(const std::vector<std::string_view>& parts) {
    return parts.size() >= 4 && parts[0] == "v0" && parts[1] == "agents" && parts[3] == "git";
}

// Whether `origin` ("scheme://host[:port]") is the request's own: its scheme and its Host header.
bool same_origin(std::string_view origin, std::string_view scheme, std::string_view host) {
    auto sep = origin.find("://");
    if (sep == std::string_view::npos || host.empty())
        return false;
    return text::iequals(origin.substr(0, sep), scheme) && text::iequals(origin.substr(sep + 3), host);
}

using answer = std::optional<response>;

// The context every phase reads and the result it fills in.
struct phase_state {
    const dispatch_input& in;
    const gate& g;
    dispatch_result& out;
    std::vector<std::string_view> parts; // the path's segments
    bool origin_allowed = false;         // Origin is one of --allow-origin
    const auth::candidate* accepted = nullptr;
    std::vector<auth::candidate> offered;
    bool open = false;       // a route that takes no token matched: no front door, host or token phases
    bool origin_form = true; // the target is "/…", "*" or absolute-form (then matched by its path)
};

// A real CORS preflight: what a browser sends before a cross-origin request, without credentials and
// without a body. Anything else that calls itself one is an ordinary request.
bool real_preflight(const dispatch_input& in) {
    return in.verb == method::options && in.preflight && !in.origin.empty() && !in.has_body;
}

// The daemon's own routes outside /v0 that take no token, before the front door so that an agent's "/"
// route cannot shadow them. A loopback-only route asked for otherwise is not ours: the phases go on.
answer open_route(phase_state& s, const router& routes) {
    const route* r = s.in.upgrade ? nullptr : routes.match_open(s.in.verb, s.out.req.path);
    if (!r ||
        (r->options.access == route_access::loopback && (!s.in.loopback || !s.in.forwarded_for.empty())))
        return {};
    s.open = true;
    s.out.target = r;
    return {};
}

// docs/api.md §3 steps 2, 4 and 5: whether the front door takes the request. It never answers by itself;
// the health check stays the daemon's on every host.
answer front(phase_state& s) {
    const front_door* door = s.g.door;
    if (!door || s.open ||
        (s.out.req.path == "/healthz" && (s.in.verb == method::get || s.in.verb == method::head)))
        return {};
    if ((s.out.pass = door->by_host(host_without_port(s.in.host))))
        return {};
    std::string_view path = s.out.req.path;
    if (path == "/v0" || path.starts_with("/v0/"))
        return {};
    s.out.pass = door->by_path(path, s.in.upgrade);
    return {};
}

// Framing the daemon could not pass on exactly (docs/api.md §4): a WebSocket upgrade has no body (its bytes
// would reach a service as the next request on its connection), and a proxied request's target is in
// origin form.
answer framing(phase_state& s) {
    if (s.in.upgrade && s.in.has_body)
        return error_response(error_kind::bad_request,
                              "Bad request: a WebSocket upgrade request with a body");
    if (s.out.pass && !s.origin_form)
        return error_response(error_kind::bad_request, "Bad request: the target is not a path");
    return {};
}

// CORS applies to every answer for a listed origin, errors included, so browsers can read them. Proxied
// services answer their own CORS.
answer cors(phase_state& s) {
    if (s.out.pass)
        return {};
    const auto& cfg = s.g.cfg;
    s.origin_allowed = !s.in.origin.empty() && std::find(cfg.allow_origin.begin(), cfg.allow_origin.end(),
                                                         s.in.origin) != cfg.allow_origin.end();
    if (!s.origin_allowed)
        return {};
    s.out.headers.emplace_back("Access-Control-Allow-Origin", std::string(s.in.origin));
    s.out.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    s.out.headers.emplace_back("Vary", "Origin");
    if (!real_preflight(s.in))
        return {};
    response r;
    r.status = 204;
    r.content_type.clear();
    r.headers = {{"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                 {"Access-Control-Max-Age", "600"}};
    return r;
}

answer health(phase_state& s) {
    if (s.out.req.path == "/healthz" && (s.in.verb == method::get || s.in.verb == method::head))
        return json_response({{"status", "ok"}});
    return {};
}

// {other}.DOMAIN is another agent's host: not ours to serve. Outside the front door only /v0 is served.
answer host(phase_state& s) {
    if (s.out.pass || s.open)
        return {};
    const auto& cfg = s.g.cfg;
    if (cfg.base_domain) {
        std::string h(host_without_port(s.in.host));
        std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string suffix = "." + *cfg.base_domain;
        if (h.size() > suffix.size() && h.ends_with(suffix) &&
            h.substr(0, h.size() - suffix.size()) != cfg.agent_id)
            return error_response(error_kind::not_found, "Agent not found");
    }
    s.parts = split_path(s.out.req.path);
    if (s.parts.empty() || s.parts[0] != "v0")
        return error_response(error_kind::not_found, "Not found");
    return {};
}

// A path that means something else once normalised ("/public/../admin") could reach a protected service
// through an unprotected route: such paths are not passed on.
answer dot_segments(phase_state& s) {
    if (!s.out.pass)
        return {};
    const std::string& path = s.out.req.path;
    for (auto seg : split_path(path))
        if (seg == "." || seg == "..")
            return error_response(error_kind::bad_request, "Bad request: '.' or '..' in the path");
    if (path.find('\\') != std::string::npos || path.find('\0') != std::string::npos)
        return error_response(error_kind::bad_request, "Bad request: backslash or NUL in the path");
    return {};
}

// Before the route lookup, so unauthenticated callers learn nothing about routes. The right token is always
// accepted: behind an edge proxy every client may share one address, and one guesser must not lock the owner
// out. Only wrong attempts are limited.
// Unprotected services, and CORS preflights to any service (a browser sends them without credentials), are
// let through without a token.
answer authenticate(phase_state& s) {
    if (s.open)
        return {};
    if (s.out.pass && (!s.out.pass->protect || real_preflight(s.in)))
        return {};
    s.offered = auth::offered_tokens({s.in.authorizations.data(), s.in.authorizations.size()},
                                     {s.in.cookies.data(), s.in.cookies.size()}, s.out.req.query);
    auto unauthorized = [&] {
        response r = error_response(error_kind::unauthorized, "Unauthorized");
        if (is_git_path(s.parts))
            r.headers.emplace_back("WWW-Authenticate", R"(Basic realm="agent-gateway")");
        return r;
    };
    if (s.offered.empty())
        return unauthorized();
    for (const auto& c : s.offered)
        if (s.g.tokens.check(c.token)) {
            s.accepted = &c;
            return {};
        }
    const std::string& address = s.out.req.remote_address;
    if (auto wait = s.g.failures.blocked(address)) {
        response r = error_response(error_kind::rate_limited, "Too many failed attempts");
        r.headers.emplace_back("Retry-After", std::to_string(wait->count()));
        return r;
    }
    s.g.failures.record_failure(address);
    return unauthorized();
}

// A browser sends the cookie and a ?token= URL on its own, from any page: such a request from another origin
// may read (GET) but not act, and may not open a WebSocket.
answer cross_site(phase_state& s) {
    if (!s.accepted)
        return {}; // an unprotected service: nothing ambient was used
    const auto& in = s.in;
    const bool secure = in.secure || text::iequals(in.forwarded_proto, "https");
    const bool ambient =
        s.accepted->from == auth::carrier::cookie || s.accepted->from == auth::carrier::query;
    const bool acts =
        in.upgrade || !(in.verb == method::get || in.verb == method::head || in.verb == method::options);
    if (ambient && acts && !in.origin.empty() && !s.origin_allowed &&
        !same_origin(in.origin, secure ? "https" : "http", in.host))
        return error_response(error_kind::forbidden, "Cross-origin request refused");
    if (s.accepted->from == auth::carrier::query)
        s.out.headers.emplace_back("Set-Cookie", fmt::format("gw_token={}; Path=/; HttpOnly; SameSite=Lax{}",
                                                             s.accepted->token, secure ? "; Secure" : ""));
    if (in.upgrade)
        s.out.req.auth_token = s.accepted->token; // a stream closes when a rotation retires it
    return {};
}

answer find_route(phase_state& s, const router& routes) {
    if (s.out.pass || s.open)
        return {};
    if (s.parts.size() >= 3 && s.parts[1] == "agents" && s.parts[2] != s.g.cfg.agent_id)
        return error_response(error_kind::not_found, "Agent not found");
    auto m = routes.match(s.in.verb, s.parts, s.in.upgrade);
    if (!m.found) {
        if (m.allow.empty())
            return error_response(error_kind::not_found, "Not found");
        response r = error_response(error_kind::method_not_allowed, "Method not allowed");
        r.headers.emplace_back("Allow", m.allow);
        return r;
    }
    s.out.target = m.found;
    s.out.req.params = std::move(m.params);
    return {};
}

// A declared body over the route's limit is refused before a byte of it is read.
answer body_limit(phase_state& s) {
    if (s.out.pass)
        return {}; // the service sets its own limits
    const auto& options = s.out.target->options;
    if (s.in.content_length && *s.in.content_length > options.body_limit)
        return error_response(options.too_large_is_bad_input ? error_kind::bad_request
                                                             : error_kind::too_large,
                              options.too_large_message);
    return {};
}

} // namespace

dispatch_result dispatch(const dispatch_input& in, const router& routes, const gate& g) {
    dispatch_result out;
    const auto origin = origin_form(in.target);
    const std::string_view target = origin.value_or(in.target);
    auto q = target.find('?');
    out.req.verb = in.verb;
    out.req.target = target;
    out.req.path = text::percent_decode(target.substr(0, q), false); // in a path, '+' is a plus
    if (q != std::string_view::npos)
        out.req.query = text::parse_query(target.substr(q + 1));
    out.req.remote_address =
        auth::client_address(*in.remote_address, in.forwarded_for, g.cfg.trusted_proxies);
    out.req.secure = in.secure;

    phase_state s{in, g, out, {}};
    s.origin_form = origin.has_value();
    answer a;
    if (!((a = open_route(s, routes)) || (a = front(s)) || (a = framing(s)) || (a = cors(s)) ||
          (a = health(s)) || (a = host(s)) || (a = dot_segments(s)) || (a = authenticate(s)) ||
          (a = cross_site(s)) || (a = find_route(s, routes)) || (a = body_limit(s))))
        return out;
    out.immediate = std::move(a);
    out.target = nullptr;
    out.pass.reset();
    return out;
}

std::optional<std::string_view> origin_form(std::string_view target) {
    if (target.starts_with('/') || target == "*")
        return target;
    // RFC 9112 §3.2.2: a server accepts the absolute form; its path is what the request is for.
    auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || !(text::iequals(target.substr(0, scheme_end), "http") ||
                                                  text::iequals(target.substr(0, scheme_end), "https")))
        return std::nullopt;
    std::string_view rest = target.substr(scheme_end + 3);
    auto path = rest.find_first_of("/?#");
    if (path == std::string_view::npos)
        return std::string_view("/");
    if (rest[path] != '/')
        return std::nullopt; // "http://host?q": a query without a path has no origin form to give
    return rest.substr(path);
}

} // namespace ag
