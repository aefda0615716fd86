#include "proxy/header_rules.hpp"

#include "auth/credentials.hpp"
#include "auth/token_store.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/pass_exchange.hpp"
#include "runtime/net.hpp"
#include "util/text.hpp"

#include <boost/range/iterator_range_core.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <array>

namespace ag::proxy {
namespace {

// Hop-by-hop fields (RFC 9110 §7.6.1) and the ones this proxy writes itself.
bool dropped_on_the_way(std::string_view name) {
    static constexpr std::array<std::string_view, 11> names{
        "connection",        "keep-alive",        "proxy-connection",    "te",
        "transfer-encoding", "upgrade",           "proxy-authorization", "content-length",
        "x-forwarded-for",   "x-forwarded-proto", "x-forwarded-host"};
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view n) { return text::iequals(n, name); });
}

// Fields a Connection header names are hop-by-hop too.
bool named_by_connection(std::string_view name, const http::fields& f) {
    for (const auto& c : boost::make_iterator_range(f.equal_range(http::field::connection))) {
        std::string_view v = c.value();
        while (!v.empty()) {
            auto comma = v.find(',');
            if (text::iequals(text::trim(v.substr(0, comma)), name))
                return true;
            v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
        }
    }
    return false;
}

// A Referer names the page the browser came from, which may be the documented `?token=` link.
std::string referer_without_token(std::string_view url) {
    auto fragment = url.find('#');
    return target_without_token(url.substr(0, fragment));
}

// Whether a Set-Cookie sets our cookie: a service must not overwrite the owner's (docs/api.md §4).
bool sets_gateway_cookie(std::string_view set_cookie) {
    auto eq = set_cookie.find('=');
    return eq != std::string_view::npos && text::iequals(text::trim(set_cookie.substr(0, eq)), "gw_token");
}

} // namespace

void add_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

std::string request_head(const pass_exchange& x, const auth::token_store& tokens,
                         const forward_options& options, bool upgrade, bool attribute) {
    const auto& req = x.parser.get();
    std::string out;
    out.reserve(512);
    // The session let only origin-form and absolute-form targets come this far (gateway/dispatch.hpp); both
    // go on in origin form, so the service reads the path the daemon matched.
    out.append(req.method_string())
        .append(" ")
        .append(target_without_token(origin_form(req.target()).value_or("/")))
        .append(" HTTP/1.1\r\n");
    std::string forwarded_for;
    std::string_view forwarded_proto;
    std::string_view host = req[http::field::host];
    for (const auto& f : req) {
        std::string_view name = f.name_string();
        if (x.peer_trusted && text::iequals(name, "x-forwarded-for"))
            forwarded_for.append(forwarded_for.empty() ? "" : ", ").append(f.value());
        if (x.peer_trusted && text::iequals(name, "x-forwarded-proto"))
            forwarded_proto = f.value();
        if (dropped_on_the_way(name) || named_by_connection(name, req))
            continue;
        if (f.name() == http::field::authorization) {
            if (options.authorization)
                continue; // the service's own credentials go instead
            // The gateway token's own header goes no further; an app's own Authorization does.
            auto offered = auth::offered_tokens(f.value(), {}, {});
            if (std::any_of(offered.begin(), offered.end(),
                            [&](const auto& c) { return tokens.check(c.token); }))
                continue;
        }
        if (f.name() == http::field::cookie) {
            std::string rest = auth::strip_cookie(f.value(), "gw_token");
            if (!rest.empty())
                add_field(out, name, rest);
            continue;
        }
        if (f.name() == http::field::referer) {
            add_field(out, name, referer_without_token(f.value()));
            continue;
        }
        add_field(out, name, f.value());
    }
    if (options.authorization)
        add_field(out, "Authorization", options.authorization());
    // What a trusted proxy before us said, then the peer that connected to us (nginx's
    // $proxy_add_x_forwarded_for); from anyone else, only the peer.
    if (attribute) {
        forwarded_for.append(forwarded_for.empty() ? "" : ", ").append(x.peer_address);
        add_field(out, "X-Forwarded-For", forwarded_for);
        add_field(out, "X-Forwarded-Proto",
                  x.secure ? "https" : (forwarded_proto.empty() ? "http" : forwarded_proto));
        if (!host.empty())
            add_field(out, "X-Forwarded-Host", host);
    }
    if (upgrade) {
        add_field(out, "Connection", "Upgrade");
        add_field(out, "Upgrade", req[http::field::upgrade]);
    } else if (auto n = x.parser.content_length()) {
        add_field(out, "Content-Length", std::to_string(*n));
    } else if (x.parser.chunked()) {
        add_field(out, "Transfer-Encoding", "chunked");
    }
    out.append("\r\n");
    return out;
}

std::string response_head(const http::response_parser<http::buffer_body>& rp, const pass_exchange& x,
                          framing how, bool keep_alive) {
    const auto& res = rp.get();
    std::string out;
    out.reserve(512);
    out.append(fmt::format("HTTP/1.1 {} ", res.result_int())).append(res.reason()).append("\r\n");
    const bool switching = res.result_int() == 101;
    for (const auto& f : res) {
        std::string_view name = f.name_string();
        if (switching && (text::iequals(name, "upgrade") || text::iequals(name, "connection"))) {
            add_field(out, name, f.value());
            continue;
        }
        if (dropped_on_the_way(name) || named_by_connection(name, res))
            continue;
        if (f.name() == http::field::set_cookie && sets_gateway_cookie(f.value()))
            continue;
        add_field(out, name, f.value());
    }
    for (const auto& [name, value] : x.extra)
        add_field(out, name, value);
    // A sized body, or an answer without one (HEAD, 304) keeping the length the service named.
    if ((how == framing::length || how == framing::none) && rp.content_length())
        add_field(out, "Content-Length", std::to_string(*rp.content_length()));
    else if (how == framing::chunked)
        add_field(out, "Transfer-Encoding", "chunked");
    if (!switching && !keep_alive)
        add_field(out, "Connection", "close");
    out.append("\r\n");
    return out;
}

std::string target_without_token(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos)
        return std::string(target);
    std::string out(target.substr(0, q));
    std::string_view rest = target.substr(q + 1);
    char sep = '?';
    while (true) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        std::string_view name = pair.substr(0, pair.find('='));
        if (!pair.empty() && text::form_decode(name) != "token") {
            out.push_back(sep);
            out.append(pair);
            sep = '&';
        }
        if (amp == std::string_view::npos)
            break;
        rest = rest.substr(amp + 1);
    }
    return out;
}

} // namespace ag::proxy
