#include "gateway/router.hpp"

#include <stdexcept>

namespace ag {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        auto slash = path.find('/');
        out.emplace_back(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
    }
    return out;
}

void router::add(method verb, std::string_view pattern, http_handler handler, route_options options) {
    auto parts = split_path(pattern);
    if (options.access != route_access::token) {
        // An agent's routes always take the token. A loopback route's path is the API's for everyone else,
        // so it stays outside /v0.
        const bool under_v0 = pattern == "/v0" || pattern.starts_with("/v0/");
        if (pattern.find('{') != std::string_view::npos || pattern.starts_with("/v0/agents/") ||
            (under_v0 && options.access == route_access::loopback))
            throw std::logic_error("a route without a token must be a literal path, outside /v0/agents "
                                   "(and outside /v0 when only loopback connections may call it)");
        open_.emplace_back(std::string(pattern), routes_.size());
    }
    routes_.push_back(
        route{verb, {parts.begin(), parts.end()}, std::move(handler), {}, {}, std::move(options)});
}

std::string route::pattern() const {
    std::string out;
    for (const auto& seg : segments)
        out += "/" + seg;
    return out.empty() ? "/" : out;
}

void router::add_websocket(std::string_view pattern, websocket_handler handler, websocket_check check) {
    auto parts = split_path(pattern);
    routes_.push_back(
        route{method::get, {parts.begin(), parts.end()}, {}, std::move(handler), std::move(check), {}});
}

const route* router::match_open(method verb, std::string_view path) const {
    for (const auto& [literal, index] : open_) {
        const route& r = routes_[index];
        if (literal == path && (r.verb == verb || (verb == method::head && r.verb == method::get)))
            return &r;
    }
    return nullptr;
}

router::match_result router::match(method verb, std::string_view path, bool upgrade) const {
    return match(verb, split_path(path), upgrade);
}

router::match_result router::match(method verb, const std::vector<std::string_view>& parts,
                                   bool upgrade) const {
    match_result result;
    std::vector<std::pair<std::string, std::string>> params;
    for (const auto& r : routes_) {
        if (r.segments.size() != parts.size())
            continue;
        params.clear();
        bool ok = true;
        for (std::size_t i = 0; i < parts.size() && ok; ++i) {
            const auto& seg = r.segments[i];
            if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}')
                params.emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));
            else
                ok = seg == parts[i];
        }
        if (!ok)
            continue;
        bool is_ws = static_cast<bool>(r.ws_handler);
        bool method_ok = r.verb == verb || (verb == method::head && r.verb == method::get && !is_ws);
        if (method_ok && is_ws == upgrade) {
            result.found = &r;
            result.params = std::move(params);
            return result;
        }
        if (is_ws && !upgrade)
            continue; // a plain GET on a WebSocket-only path is not a method problem
        std::string name(method_name(r.verb));
        if (result.allow.find(name) == std::string::npos) {
            if (!result.allow.empty())
                result.allow += ", ";
            result.allow += name;
            if (r.verb == method::get)
                result.allow += ", HEAD";
        }
    }
    return result;
}

} // namespace ag
