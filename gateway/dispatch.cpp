#include "gateway/dispatch.hpp"

#include "auth/client_address.hpp"
#include "auth/credentials.hpp"
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "gateway/config.hpp"
#include "gateway/services.hpp"

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

response not_found(std::string_view message = "Not found") {
    return error_response(404, message);
}

} // namespace

dispatch_result dispatch(const dispatch_input& in, const router& routes, services& svc) {
    dispatch_result out;
    const config& cfg = svc.cfg;

    auto q = in.target.find('?');
    out.req.verb = in.verb;
    out.req.target = in.target;
    out.req.path = text::percent_decode(in.target.substr(0, q), false); // in a path, '+' is a plus
    if (q != std::string_view::npos)
        out.req.query = text::parse_query(in.target.substr(q + 1));
    out.req.remote_address = auth::client_address(*in.remote_address, in.forwarded_for, cfg.trusted_proxies);
    out.req.secure = in.secure;

    // CORS applies to every answer for a listed origin, errors included, so browsers can read them.
    bool origin_allowed = !in.origin.empty() && std::find(cfg.allow_origin.begin(), cfg.allow_origin.end(),
                                                          in.origin) != cfg.allow_origin.end();
    if (origin_allowed) {
        out.headers.emplace_back("Access-Control-Allow-Origin", std::string(in.origin));
        out.headers.emplace_back("Access-Control-Allow-Credentials", "true");
        out.headers.emplace_back("Vary", "Origin");
        if (in.verb == method::options && in.preflight) {
            response r;
            r.status = 204;
            r.content_type.clear();
            r.headers = {{"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
                         {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                         {"Access-Control-Max-Age", "600"}};
            out.immediate = std::move(r);
            return out;
        }
    }

    if (out.req.path == "/healthz" && (in.verb == method::get || in.verb == method::head)) {
        out.immediate = json_response({{"status", "ok"}});
        return out;
    }

    if (cfg.base_domain) {
        // {other}.DOMAIN is another agent's host: not ours to serve.
        std::string host(host_without_port(in.host));
        std::transform(host.begin(), host.end(), host.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        std::string suffix = "." + *cfg.base_domain;
        if (host.size() > suffix.size() && host.ends_with(suffix) &&
            host.substr(0, host.size() - suffix.size()) != cfg.agent_id) {
            out.immediate = not_found("Agent not found");
            return out;
        }
    }

    auto parts = split_path(out.req.path);
    if (parts.empty() || parts[0] != "v0") {
        out.immediate = not_found();
        return out;
    }

    // Authentication comes before the route lookup, so unauthenticated callers learn nothing about routes.
    auto offered = auth::offered_tokens({in.authorizations.data(), in.authorizations.size()},
                                        {in.cookies.data(), in.cookies.size()}, out.req.query);
    auto unauthorized = [&] {
        response r = error_response(401, "Unauthorized");
        if (is_git_path(parts))
            r.headers.emplace_back("WWW-Authenticate", R"(Basic realm="agent-gateway")");
        return r;
    };
    if (offered.empty()) {
        out.immediate = unauthorized();
        return out;
    }
    const auth::candidate* accepted = nullptr;
    for (const auto& c : offered)
        if (svc.tokens.check(c.token)) {
            accepted = &c;
            break;
        }
    // The right token is always accepted: behind an edge proxy every client may share one address, and one
    // guesser must not lock the owner out. Only wrong attempts are limited.
    if (!accepted) {
        const std::string& address = out.req.remote_address;
        if (auto wait = svc.failures.blocked(address)) {
            response r = error_response(429, "Too many failed attempts");
            r.headers.emplace_back("Retry-After", std::to_string(wait->count()));
            out.immediate = std::move(r);
            return out;
        }
        svc.failures.record_failure(address);
        out.immediate = unauthorized();
        return out;
    }
    const bool secure = in.secure || text::iequals(in.forwarded_proto, "https");
    // A browser sends the cookie and a ?token= URL on its own, from any page: such a request from another
    // origin may read (GET) but not act, and may not open a WebSocket.
    const bool ambient = accepted->from == auth::carrier::cookie || accepted->from == auth::carrier::query;
    const bool acts =
        in.upgrade || !(in.verb == method::get || in.verb == method::head || in.verb == method::options);
    if (ambient && acts && !in.origin.empty() && !origin_allowed &&
        !same_origin(in.origin, secure ? "https" : "http", in.host)) {
        out.immediate = error_response(403, "Cross-origin request refused");
        return out;
    }
    if (accepted->from == auth::carrier::query)
        out.headers.emplace_back("Set-Cookie", fmt::format("gw_token={}; Path=/; HttpOnly; SameSite=Lax{}",
                                                           accepted->token, secure ? "; Secure" : ""));
    if (in.upgrade)
        out.req.auth_token = accepted->token; // a stream closes when a rotation retires it

    if (parts.size() >= 3 && parts[1] == "agents" && parts[2] != cfg.agent_id) {
        out.immediate = not_found("Agent not found");
        return out;
    }

    auto m = routes.match(in.verb, parts, in.upgrade);
    if (!m.found) {
        if (!m.allow.empty()) {
            response r = error_response(405, "Method not allowed");
            r.headers.emplace_back("Allow", m.allow);
            out.immediate = std::move(r);
        } else {
            out.immediate = not_found();
        }
        return out;
    }
    if (in.content_length && *in.content_length > m.found->options.body_limit) {
        out.immediate = error_response(413, m.found->options.too_large_message);
        return out;
    }
    out.target = m.found;
    out.req.params = std::move(m.params);
    return out;
}

} // namespace ag
