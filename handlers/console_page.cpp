// GET …/ui/ (docs/api.md §20): the console page and its assets, from the binary (ui/assets.hpp).
#include "handlers/routes.hpp"

#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "handlers/embedded_answer.hpp"
#include "ui/assets.hpp"
#include "util/base64.hpp"
#include "util/text.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>
#include <string>

namespace ag {
namespace {

constexpr std::string_view nonce_placeholder = "{{nonce}}";

std::string_view content_type_of(std::string_view name) {
    if (name.ends_with(".html"))
        return "text/html; charset=utf-8";
    if (name.ends_with(".js") || name.ends_with(".mjs"))
        return "text/javascript; charset=utf-8";
    if (name.ends_with(".css"))
        return "text/css; charset=utf-8";
    return "application/octet-stream";
}

// A host that may be written into the policy as it is (no spaces, quotes or semicolons).
bool plain_host(std::string_view host) {
    return !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '-' || c == ':' || c == '[' || c == ']';
    });
}

// default-src 'self' for everything; the page's WebSockets (logs, terminal, file watch) named by host for
// browsers whose 'self' does not cover ws:/wss:; xterm.js adds <style> elements for its theme and sizes,
// allowed only with this answer's nonce, which the page's script puts on every <style> it makes.
std::string security_policy(std::string_view host, std::string_view nonce) {
    std::string p = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
                    "img-src 'self' blob: data:";
    p += "; style-src 'self'";
    if (!nonce.empty())
        p += " 'nonce-" + std::string(nonce) + "'";
    p += "; connect-src 'self'";
    if (plain_host(host))
        p += " ws://" + std::string(host) + " wss://" + std::string(host);
    return p;
}

void add_page_headers(response& res, const request& req, std::string_view nonce) {
    res.headers.emplace_back("Content-Security-Policy", security_policy(req.header("Host"), nonce));
    res.headers.emplace_back("X-Frame-Options", "DENY");
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
}

std::string new_nonce() {
    std::array<char, 16> bytes{};
    if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
        throw std::runtime_error("getrandom failed");
    return base64::encode({bytes.data(), bytes.size()});
}

// The page itself: made for each answer, with a fresh nonce in its policy and in its <meta>. A `?token=`
// (dispatch has set the cookie from it by now) or a path without its last slash is sent back to the clean
// …/ui/ first, so the token never stays in the address bar, the history or a bookmark.
response page(const std::string& index, request& req) {
    response res;
    const bool slash = req.path.ends_with('/');
    if (!slash || text::find_param(req.query, "token")) {
        res.status = 303;
        res.content_type.clear();
        res.headers.emplace_back("Location", "/v0/agents/" + std::string(req.param("agentId")) + "/ui/");
        res.headers.emplace_back("Cache-Control", "no-store");
        return res;
    }
    std::string nonce = new_nonce();
    res.content_type = std::string(content_type_of("index.html"));
    res.body = index;
    for (auto at = res.body.find(nonce_placeholder); at != std::string::npos;
         at = res.body.find(nonce_placeholder, at + nonce.size()))
        res.body.replace(at, nonce_placeholder.size(), nonce);
    res.headers.emplace_back("Cache-Control", "no-store");
    add_page_headers(res, req, nonce);
    return res;
}

response asset_answer(const embedded::file& a, request& req) {
    response res = embedded_answer(a, req, content_type_of(a.name));
    add_page_headers(res, req, {});
    return res;
}

const embedded::file* find_asset(std::string_view name) {
    for (const auto& a : ui::assets())
        if (a.name == name)
            return &a;
    return nullptr;
}

boost::asio::awaitable<response> get_page(std::shared_ptr<const std::string> index, request& req) {
    co_return page(*index, req);
}

boost::asio::awaitable<response> get_asset(request& req) {
    const embedded::file* a = find_asset(req.param("asset"));
    if (!a || a->name == "index.html")
        throw api_error(error_kind::not_found, "Not found");
    co_return asset_answer(*a, req);
}

} // namespace

void console_page_routes::add_to(router& r) const {
    const embedded::file* index_asset = find_asset("index.html");
    if (!index_asset)
        throw std::logic_error("the console page has no index.html");
    auto index = std::make_shared<const std::string>(embedded::inflate(*index_asset));
    r.add(method::get, "/v0/agents/{agentId}/ui", [index](request& req) { return get_page(index, req); });
    r.add(method::get, "/v0/agents/{agentId}/ui/{asset}", get_asset);
}

} // namespace ag
