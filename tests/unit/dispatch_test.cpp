// dispatch(): the phases before a body is read, value in, value out (docs/api.md §3-§5).
#include "auth/client_address.hpp"
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/router.hpp"

#include <doctest/doctest.h>

using namespace ag;

namespace {

struct dispatch_fixture {
    config cfg;
    auth::token_store tokens = auth::token_store::fixed("right-token");
    auth::failure_limiter failures{3};
    gate g{cfg, tokens, failures};
    router routes;
    std::string peer = "198.51.100.4";

    dispatch_fixture() {
        cfg.agent_id = "a1";
        cfg.base_domain = "agents.example";
        cfg.allow_origin = {"https://console.example"};
        auto noop = [](request&) -> boost::asio::awaitable<response> { co_return response{}; };
        routes.add(method::get, "/v0/agents/{agentId}", noop);
        route_options small;
        small.body_limit = 10;
        small.too_large_message = "Too big for this";
        routes.add(method::post, "/v0/agents/{agentId}/console/exec", noop, small);
    }

    dispatch_input input(method verb, std::string_view target) const {
        dispatch_input in;
        in.verb = verb;
        in.target = target;
        in.host = "a1.agents.example";
        in.remote_address = &peer;
        return in;
    }
    dispatch_result run(const dispatch_input& in) { return dispatch(in, routes, g); }
};

std::string header(const std::vector<std::pair<std::string, std::string>>& h, std::string_view name) {
    for (const auto& [k, v] : h)
        if (k == name)
            return v;
    return {};
}

} // namespace

TEST_CASE("dispatch: health and host come before authentication") {
    dispatch_fixture f;
    auto health = f.run(f.input(method::get, "/healthz"));
    REQUIRE(health.immediate);
    CHECK(health.immediate->status == 200);

    auto other = f.input(method::get, "/v0/agents/a1");
    other.host = "b2.agents.example:443";
    auto r = f.run(other);
    REQUIRE(r.immediate);
    CHECK(r.immediate->status == 404);
    CHECK(r.immediate->body == R"({"error":"Agent not found"})");

    auto outside = f.run(f.input(method::get, "/elsewhere"));
    REQUIRE(outside.immediate);
    CHECK(outside.immediate->status == 404);
}

TEST_CASE("dispatch: 401 without a token (with a Basic challenge for git), routes hidden from strangers") {
    dispatch_fixture f;
    auto none = f.run(f.input(method::get, "/v0/agents/a1/nothing-here"));
    REQUIRE(none.immediate);
    CHECK(none.immediate->status == 401); // not 404: no route is revealed
    CHECK(header(none.immediate->headers, "WWW-Authenticate").empty());
    auto git = f.run(f.input(method::get, "/v0/agents/a1/git/info/refs"));
    REQUIRE(git.immediate);
    CHECK(git.immediate->status == 401);
    CHECK(header(git.immediate->headers, "WWW-Authenticate") == R"(Basic realm="agent-gateway")");
}

TEST_CASE("dispatch: wrong tokens are limited per address; the right one always comes in") {
    dispatch_fixture f;
    auto wrong = f.input(method::get, "/v0/agents/a1");
    wrong.authorizations.push_back("Bearer wrong");
    for (int i = 0; i < 3; ++i)
        CHECK(f.run(wrong).immediate->status == 401);
    auto limited = f.run(wrong);
    CHECK(limited.immediate->status == 429);
    CHECK_FALSE(header(limited.immediate->headers, "Retry-After").empty());

    auto right = f.input(method::get, "/v0/agents/a1");
    right.authorizations.push_back("Bearer wrong");
    right.authorizations.push_back("Bearer right-token"); // any carrier with the right token counts
    auto ok = f.run(right);
    CHECK_FALSE(ok.immediate);
    REQUIRE(ok.target);
    CHECK(ok.req.param("agentId") == "a1");
}

TEST_CASE("dispatch: a cookie or ?token= from another origin may read but not act") {
    dispatch_fixture f;
    auto post = f.input(method::post, "/v0/agents/a1/console/exec");
    post.cookies.push_back("gw_token=right-token");
    post.origin = "https://evil.example";
    auto refused = f.run(post);
    REQUIRE(refused.immediate);
    CHECK(refused.immediate->status == 403);

    post.origin = "http://a1.agents.example"; // its own origin
    CHECK_FALSE(f.run(post).immediate);
    post.origin = "https://console.example"; // a listed one, with CORS headers on the answer
    auto listed = f.run(post);
    CHECK_FALSE(listed.immediate);
    CHECK(header(listed.headers, "Access-Control-Allow-Origin") == "https://console.example");

    auto bearer = f.input(method::post, "/v0/agents/a1/console/exec");
    bearer.authorizations.push_back("Bearer right-token");
    bearer.origin = "https://evil.example"; // a header the page cannot make the browser send
    CHECK_FALSE(f.run(bearer).immediate);

    auto get = f.input(method::get, "/v0/agents/a1?token=right-token");
    get.origin = "https://evil.example";
    auto read = f.run(get);
    CHECK_FALSE(read.immediate);
    CHECK(header(read.headers, "Set-Cookie").starts_with("gw_token=right-token; Path=/; HttpOnly"));
}

TEST_CASE("dispatch: another agent's id, 405 with Allow, 413 from Content-Length, CORS preflight") {
    dispatch_fixture f;
    auto other = f.input(method::get, "/v0/agents/zz");
    other.authorizations.push_back("Bearer right-token");
    CHECK(f.run(other).immediate->body == R"({"error":"Agent not found"})");

    auto wrong_method = f.input(method::delete_, "/v0/agents/a1");
    wrong_method.authorizations.push_back("Bearer right-token");
    auto r405 = f.run(wrong_method);
    CHECK(r405.immediate->status == 405);
    CHECK(header(r405.immediate->headers, "Allow") == "GET, HEAD");

    auto big = f.input(method::post, "/v0/agents/a1/console/exec");
    big.authorizations.push_back("Bearer right-token");
    big.content_length = 11;
    auto r413 = f.run(big);
    CHECK(r413.immediate->status == 413);
    CHECK(r413.immediate->body == R"({"error":"Too big for this"})");
    CHECK(r413.target == nullptr);
    big.content_length = 10;
    CHECK_FALSE(f.run(big).immediate);

    auto preflight = f.input(method::options, "/v0/agents/a1/console/exec");
    preflight.origin = "https://console.example";
    preflight.preflight = true;
    auto pf = f.run(preflight);
    REQUIRE(pf.immediate);
    CHECK(pf.immediate->status == 204); // before authentication: browsers send no credentials here
    CHECK_FALSE(header(pf.immediate->headers, "Access-Control-Allow-Methods").empty());
    CHECK(header(pf.headers, "Access-Control-Allow-Origin") == "https://console.example");
}

TEST_CASE("dispatch: the client address is the peer unless a trusted proxy names it") {
    dispatch_fixture f;
    auto in = f.input(method::get, "/healthz");
    in.forwarded_for = "203.0.113.9";
    CHECK(f.run(in).req.remote_address == "198.51.100.4");
    f.cfg.trusted_proxies.push_back(*auth::parse_cidr("198.51.100.0/24"));
    CHECK(f.run(in).req.remote_address == "203.0.113.9");
}

namespace {

// A front door that knows one domain (port 5000, unprotected), a protected /app route (port 3000) and an
// unprotected / route (port 3001). It is never asked to pass: dispatch only chooses.
struct fixed_front_door final : front_door {
    std::optional<pass_target> by_host(std::string_view host) const override {
        if (host == "shop.example")
            return pass_target{5000, false};
        return std::nullopt;
    }
    std::optional<pass_target> by_path(std::string_view path, bool) const override {
        if (path == "/app" || path.starts_with("/app/"))
            return pass_target{3000, true};
        return pass_target{3001, false};
    }
    boost::asio::awaitable<pass_result> pass(pass_exchange&) override { co_return pass_result{}; }
};

} // namespace

TEST_CASE("dispatch: the front door takes what is not /v0; protected targets need the token") {
    dispatch_fixture f;
    fixed_front_door door;
    f.g.door = &door;

    auto open = f.run(f.input(method::post, "/anything?x=1"));
    CHECK_FALSE(open.immediate);
    REQUIRE(open.pass);
    CHECK(open.pass->upstream == 3001);

    auto shut = f.run(f.input(method::get, "/app/page"));
    REQUIRE(shut.immediate);
    CHECK(shut.immediate->status == 401);
    auto in = f.input(method::get, "/app/page");
    in.authorizations.push_back("Bearer right-token");
    auto let = f.run(in);
    REQUIRE(let.pass);
    CHECK(let.pass->upstream == 3000);

    // A browser's preflight carries no credentials: the app answers it, with its own CORS.
    auto pre = f.input(method::options, "/app/page");
    pre.preflight = true;
    pre.origin = "https://console.example";
    auto preflight = f.run(pre);
    REQUIRE(preflight.pass);
    CHECK(header(preflight.headers, "Access-Control-Allow-Origin").empty());

    // A registered domain goes to its service whatever the path, /v0 included; /healthz stays ours.
    auto domain = f.input(method::get, "/v0/agents/a1");
    domain.host = "shop.example:443";
    auto d = f.run(domain);
    REQUIRE(d.pass);
    CHECK(d.pass->upstream == 5000);
    auto health = f.input(method::get, "/healthz");
    health.host = "shop.example";
    auto h = f.run(health);
    REQUIRE(h.immediate);
    CHECK(h.immediate->status == 200);

    // The API stays the API, and a path that normalises elsewhere goes nowhere.
    auto api = f.run(f.input(method::get, "/v0/agents/a1"));
    CHECK_FALSE(api.pass);
    CHECK(api.immediate->status == 401);
    auto dots = f.run(f.input(method::get, "/x/../app/page"));
    REQUIRE(dots.immediate);
    CHECK(dots.immediate->status == 400);
    CHECK_FALSE(dots.pass);

    // Cross-site rule on a protected service: the cookie does not let another site act.
    auto csrf = f.input(method::post, "/app/delete");
    csrf.cookies.push_back("gw_token=right-token");
    csrf.origin = "https://evil.example";
    auto c = f.run(csrf);
    REQUIRE(c.immediate);
    CHECK(c.immediate->status == 403);
}

TEST_CASE("dispatch: routes without a token, open to anyone or to loopback connections only") {
    dispatch_fixture f;
    auto noop = [](request&) -> boost::asio::awaitable<response> { co_return response{}; };
    route_options open;
    open.access = route_access::open;
    f.routes.add(method::get, "/.well-known/jwks.json", noop, open);
    route_options local;
    local.access = route_access::loopback;
    f.routes.add(method::get, "/metrics", noop, local);
    f.routes.add(method::get, "/v0/openapi.json", noop, open);
    // An agent's routes always take the token; an open route is a literal path; a loopback one stays outside
    // /v0.
    CHECK_THROWS_AS(f.routes.add(method::get, "/v0/agents/a1/open", noop, open), std::logic_error);
    CHECK_THROWS_AS(f.routes.add(method::get, "/x/{id}", noop, open), std::logic_error);
    CHECK_THROWS_AS(f.routes.add(method::get, "/v0/local", noop, local), std::logic_error);

    // Under /v0 too, an open route needs no token, and another method there is the API's (401 first).
    auto doc = f.run(f.input(method::get, "/v0/openapi.json"));
    CHECK_FALSE(doc.immediate);
    CHECK(doc.target != nullptr);
    auto doc_post = f.run(f.input(method::post, "/v0/openapi.json"));
    CHECK(doc_post.target == nullptr);
    REQUIRE(doc_post.immediate);
    CHECK(doc_post.immediate->status == 401);

    auto jwks = f.run(f.input(method::get, "/.well-known/jwks.json"));
    CHECK_FALSE(jwks.immediate);
    CHECK(jwks.target != nullptr);
    CHECK(f.run(f.input(method::head, "/.well-known/jwks.json")).target != nullptr);
    auto posted = f.run(f.input(method::post, "/.well-known/jwks.json"));
    CHECK(posted.target == nullptr); // not an open route: the usual phases (404 outside /v0 here)

    auto in = f.input(method::get, "/metrics");
    CHECK(f.run(in).target == nullptr);
    in.loopback = true;
    CHECK(f.run(in).target != nullptr);
    // Through a proxy on the same machine the client is someone else.
    in.forwarded_for = "203.0.113.9";
    auto proxied = f.run(in);
    CHECK(proxied.target == nullptr);
    REQUIRE(proxied.immediate);
    CHECK(proxied.immediate->status == 404);
}

TEST_CASE("dispatch: only a real preflight passes a protected route without the token") {
    dispatch_fixture f;
    fixed_front_door door;
    f.g.door = &door;
    auto pre = f.input(method::options, "/app/secret");
    pre.preflight = true;
    // Without an Origin no browser sent it: an ordinary OPTIONS, which needs the token.
    auto no_origin = f.run(pre);
    REQUIRE(no_origin.immediate);
    CHECK(no_origin.immediate->status == 401);
    // With a body it is no preflight either.
    pre.origin = "https://console.example";
    pre.has_body = true;
    auto with_body = f.run(pre);
    REQUIRE(with_body.immediate);
    CHECK(with_body.immediate->status == 401);
    pre.has_body = false;
    CHECK(f.run(pre).pass);
}

TEST_CASE("dispatch: an upgrade with a body is refused; absolute-form targets are matched by their path") {
    dispatch_fixture f;
    fixed_front_door door;
    f.g.door = &door;
    auto up = f.input(method::get, "/");
    up.upgrade = true;
    up.has_body = true;
    auto smuggle = f.run(up);
    REQUIRE(smuggle.immediate);
    CHECK(smuggle.immediate->status == 400);
    CHECK_FALSE(smuggle.pass);

    // "GET http://host/app/secret" is a request for /app/secret: protected.
    auto absolute = f.run(f.input(method::get, "http://shop.example/app/secret?x=1"));
    REQUIRE(absolute.immediate);
    CHECK(absolute.immediate->status == 401);
    auto with_token = f.input(method::get, "HTTP://shop.example:8080/app/secret?x=1");
    with_token.authorizations.push_back("Bearer right-token");
    auto a = f.run(with_token);
    REQUIRE(a.pass);
    CHECK(a.pass->upstream == 3000);
    CHECK(a.req.path == "/app/secret");
    CHECK(a.req.target == "/app/secret?x=1");
    // Other forms never reach a service.
    auto relative = f.run(f.input(method::get, "app/secret"));
    REQUIRE(relative.immediate);
    CHECK(relative.immediate->status == 400);
    CHECK(origin_form("http://h") == std::optional<std::string_view>("/"));
    CHECK_FALSE(origin_form("http://h?x=1"));
    CHECK_FALSE(origin_form("ftp://h/x"));
    CHECK_FALSE(origin_form("h:443"));
    CHECK(origin_form("*") == std::optional<std::string_view>("*"));
}
