// docs/api.md §20: the console page and its assets as the daemon serves them (the page in a browser is
// tests/ui/console_page.mjs).
#include "support/gateway.hpp"
#include "util/gunzip.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <string>

using test::gateway;

namespace {

std::string inflate(const std::string& gz) {
    std::string out;
    ag::gunzip g(64 << 20);
    g.feed(gz, out);
    return out;
}

std::string nonce_in_policy(const std::string& csp) {
    std::smatch m;
    return std::regex_search(csp, m, std::regex("'nonce-([A-Za-z0-9+/=]+)'")) ? m[1].str() : std::string();
}

} // namespace

TEST_CASE("console page: ?token= sets the cookie and sends the browser to the clean address") {
    gateway d;
    auto r = d.request("GET", d.api("/ui/?token=") + gateway::token, {}, {}, false);
    CHECK(r.status == 303);
    CHECK(r.header("location") == "/v0/agents/local/ui/");
    CHECK(r.header("set-cookie").starts_with(std::string("gw_token=") + gateway::token + ";"));
    CHECK(r.header("set-cookie").find("HttpOnly") != std::string::npos);

    auto bare = d.get(d.api("/ui"));
    CHECK(bare.status == 303);
    CHECK(bare.header("location") == "/v0/agents/local/ui/");

    CHECK(d.request("GET", d.api("/ui/"), {}, {}, false).status == 401);
    CHECK(d.request("GET", d.api("/ui/app.js"), {}, {}, false).status == 401);
    CHECK(d.get("/v0/agents/other/ui/").status == 404);
}

TEST_CASE("console page: the page carries a fresh nonce, the policy and no framing") {
    gateway d;
    auto a =
        d.request("GET", d.api("/ui/"), {}, {{"Cookie", std::string("gw_token=") + gateway::token}}, false);
    REQUIRE(a.status == 200);
    CHECK(a.header("content-type") == "text/html; charset=utf-8");
    CHECK(a.header("x-frame-options") == "DENY");
    CHECK(a.header("cache-control") == "no-store");
    const std::string csp = a.header("content-security-policy");
    CHECK(csp.starts_with("default-src 'self'"));
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(csp.find("connect-src 'self' ws://127.0.0.1 wss://127.0.0.1") != std::string::npos); // from Host
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(csp.find("unsafe-eval") == std::string::npos);
    const std::string nonce = nonce_in_policy(csp);
    REQUIRE(nonce.size() >= 22);
    CHECK(a.body.find("<meta name=\"csp-nonce\" content=\"" + nonce + "\">") != std::string::npos);
    CHECK(a.body.find("{{nonce}}") == std::string::npos);
    CHECK(a.body.find("<script>") == std::string::npos); // no inline script: the policy would refuse it

    auto b = d.get(d.api("/ui/"));
    CHECK(nonce_in_policy(b.header("content-security-policy")) != nonce);

    // A Host that could break out of the policy is left out of it.
    auto odd = d.request("GET", d.api("/ui/"), {}, {{"Host", "x; script-src *"}});
    REQUIRE(odd.status == 200);
    CHECK(odd.header("content-security-policy").find("script-src") == std::string::npos);
    CHECK(odd.header("content-security-policy").ends_with("connect-src 'self'"));
}

TEST_CASE(
    "console page: every asset the page names is served, compressed for gzip clients, with validators") {
    gateway d;
    auto index = d.get(d.api("/ui/"));
    auto app = d.get(d.api("/ui/app.js"));
    REQUIRE(app.status == 200);
    CHECK(app.header("content-type") == "text/javascript; charset=utf-8");
    CHECK(app.header("content-encoding").empty());
    for (const std::string name : {"style.css", "app.js", "xterm.mjs", "addon-fit.mjs", "xterm.css"}) {
        CAPTURE(name);
        CHECK((index.body.find("\"" + name + "\"") != std::string::npos ||
               app.body.find("\"" + name + "\"") != std::string::npos ||
               app.body.find("\"./" + name + "\"") != std::string::npos));
        auto plain = d.get(d.api("/ui/" + name));
        REQUIRE(plain.status == 200);
        CHECK(plain.header("vary") == "Accept-Encoding");
        auto gz = d.request("GET", d.api("/ui/" + name), {}, {{"Accept-Encoding", "br, gzip;q=0.8"}});
        REQUIRE(gz.status == 200);
        CHECK(gz.header("content-encoding") == "gzip");
        CHECK(gz.body.size() < plain.body.size());
        CHECK(inflate(gz.body) == plain.body);
        auto refused = d.request("GET", d.api("/ui/" + name), {}, {{"Accept-Encoding", "gzip;q=0"}});
        CHECK(refused.header("content-encoding").empty());
        CHECK(refused.body == plain.body);

        const std::string etag = plain.header("etag");
        REQUIRE(etag.size() > 2);
        CHECK(etag.front() == '"');
        CHECK(gz.header("etag") == etag);
        auto again = d.request("GET", d.api("/ui/" + name), {}, {{"If-None-Match", etag}});
        CHECK(again.status == 304);
        CHECK(again.body.empty());
        auto head = d.request("HEAD", d.api("/ui/" + name));
        CHECK(head.status == 200);
        CHECK(head.body.empty());
    }
    CHECK(app.body.find("xterm.mjs") != std::string::npos);
    auto unknown = d.get(d.api("/ui/nope.js"));
    CHECK(unknown.status == 404);
    CHECK(unknown.json()["error"] == "Not found");
    CHECK(d.get(d.api("/ui/index.html")).status == 404); // the page only at …/ui/, with its nonce
    CHECK(d.request("POST", d.api("/ui/app.js"), "x").status == 405);
}
