// Metrics (docs/api.md §16) through the real daemon: who may scrape, and that what the daemon did shows up.
// A real Prometheus scrapes it in tests/metrics; here the exposition is read directly.
#include "support/engine_helpers.hpp"
#include "support/gateway.hpp"
#include "support/shell.hpp"
#include "support/upstream.hpp"
#include "support/ws_client.hpp"

#include <doctest/doctest.h>

#include <cstdio>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

using test::gateway;

namespace {

// The value of the sample `series` (its name and labels exactly as exposed), if it is there.
std::optional<double> sample(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ')
            return std::stod(line.substr(series.size() + 1));
    return std::nullopt;
}

std::string scrape(const gateway& d) {
    auto r = d.request("GET", "/metrics", {}, {}, false);
    REQUIRE(r.status == 200);
    return r.body;
}

} // namespace

TEST_CASE("metrics: /metrics for loopback without a token, not for a forwarded request; …/metrics takes it") {
    gateway d;
    auto r = d.request("GET", "/metrics", {}, {}, false);
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(r.header("Cache-Control") == "no-store");
    CHECK(r.body.find("# TYPE agent_gateway_connections_open gauge") != std::string::npos);
    // Through a proxy on this host (it adds X-Forwarded-For) the scrape is not the daemon's to give.
    auto forwarded = d.request("GET", "/metrics", {}, {{"X-Forwarded-For", "203.0.113.9"}}, false);
    CHECK(forwarded.status == 404);
    CHECK(forwarded.body.find("agent_gateway_") == std::string::npos);
    CHECK(d.request("GET", d.api("/metrics"), {}, {}, false).status == 401);
    auto with_token = d.request("GET", d.api("/metrics"));
    CHECK(with_token.status == 200);
    CHECK(with_token.body.find("agent_gateway_connections_open") != std::string::npos);
    CHECK(d.request("GET", "/v0/agents/other/metrics").status == 404);
}

// This machine's first IPv4 address besides loopback ("" when it has none: the case is reported skipped).
// Runs at static initialisation (doctest's skip decorator): popen, nothing of the test support's statics.
std::string non_loopback_ipv4() {
    std::string addr;
    if (FILE* p = ::popen("hostname -I 2>/dev/null | awk '{printf \"%s\", $1}'", "r")) {
        char buf[128];
        while (std::fgets(buf, sizeof buf, p))
            addr += buf;
        ::pclose(p);
    }
    return addr.find(':') == std::string::npos ? addr : std::string();
}

TEST_CASE("metrics: a listener on a non-loopback address does not serve /metrics, even from this host" *
          doctest::skip(non_loopback_ipv4().empty())) {
    auto addr = non_loopback_ipv4();
    test::temp_dir root;
    gateway d({"--listen", addr + ":0"}, root.path);
    auto log = d.log();
    auto at = log.find("listening on http://" + addr + ":");
    REQUIRE(at != std::string::npos);
    std::string p = log.substr(at + std::string("listening on http://").size() + addr.size() + 1);
    p = p.substr(0, p.find_first_not_of("0123456789"));
    std::string base = "http://" + addr + ":" + p;
    CHECK(test::sh("curl -s -o /dev/null -w '%{http_code}' --max-time 5 " + base + "/metrics") == "404");
    CHECK(test::sh("curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Authorization: Bearer " +
                   std::string(gateway::token) + "' " + base + "/v0/agents/local/metrics") == "200");
}

TEST_CASE("metrics: requests by route and class, execs and their timeouts, proxy errors, bytes") {
    gateway d({"--exec-timeout", "1"});
    auto before = scrape(d);
    const std::string exec_2xx =
        R"(agent_gateway_http_requests_total{route="/v0/agents/{agentId}/console/exec",method="POST",code="2xx"})";
    CHECK(!sample(before, exec_2xx)); // shown once used
    CHECK(sample(before, "agent_gateway_exec_duration_seconds_count") == 0);

    REQUIRE(d.post(d.api("/console/exec"), {{"command", "true"}}).status == 200);
    REQUIRE(d.post(d.api("/console/exec"), {{"command", "true"}}).status == 200);
    auto timed_out = d.post(d.api("/console/exec"), {{"command", "sleep 30"}});
    REQUIRE(timed_out.status == 200);
    CHECK(timed_out.json()["timedOut"] == true);
    CHECK(d.request("GET", d.api("/files?path=no-such-file")).status == 404);
    CHECK(d.request("GET", d.api("/files"), {}, {}, false).status == 401);

    int closed_port = 0;
    {
        test::upstream_service gone; // a port that was just free and is free again
        closed_port = gone.port();
    }
    nlohmann::json routes{
        {"mappings", {{{"port", closed_port}, {"pathPrefix", "/app"}, {"protected", false}}}}};
    REQUIRE(d.request("PUT", d.api("/port-forwarding"), routes.dump(), {{"Content-Type", "application/json"}})
                .status == 200);
    CHECK(d.request("GET", "/app/x", {}, {}, false).status == 502);

    auto after = scrape(d);
    CHECK(sample(after, exec_2xx) == 3);
    CHECK(sample(after, "agent_gateway_exec_duration_seconds_count") == 3);
    CHECK(sample(after, "agent_gateway_exec_timeouts_total") == 1);
    CHECK(sample(after, R"(agent_gateway_exec_duration_seconds_bucket{le="0.5"})") == 2);
    CHECK(
        sample(
            after,
            R"(agent_gateway_http_requests_total{route="/v0/agents/{agentId}/files",method="GET",code="4xx"})") ==
        1);
    CHECK(sample(after, R"(agent_gateway_http_requests_total{route="unmatched",method="ANY",code="4xx"})") ==
          1);
    CHECK(sample(after, R"(agent_gateway_http_requests_total{route="front door",method="ANY",code="5xx"})") ==
          1);
    CHECK(sample(after, R"(agent_gateway_proxy_upstream_errors_total{upstream="app",status="502"})") == 1);
    CHECK(sample(after, "agent_gateway_http_received_bytes_total") >
          sample(before, "agent_gateway_http_received_bytes_total"));
    CHECK(sample(after, "agent_gateway_http_sent_bytes_total") >
          sample(before, "agent_gateway_http_sent_bytes_total"));
    CHECK(sample(after, "agent_gateway_log_entries_total") > 0);
}

TEST_CASE(
    "metrics: the engine's state and restarts; --metrics off serves none; a bad value stops the start") {
    {
        test::temp_dir root;
        // Exits at once: each exit is an unexpected one, restarted after its backoff (1 s first).
        gateway d({"--engine", "exit 3"}, root.path);
        REQUIRE(test::wait_until(
            [&] {
                auto v = sample(scrape(d), "agent_gateway_engine_restarts_total");
                return v && *v >= 1;
            },
            std::chrono::seconds(10)));
        auto text = scrape(d);
        double states = 0;
        for (const char* s : {"not_running", "starting", "running"})
            states +=
                sample(text, std::string("agent_gateway_engine_state{state=\"") + s + "\"}").value_or(-10);
        CHECK(states == 1); // exactly one state holds
    }
    {
        gateway d({"--metrics", "off"});
        CHECK(d.request("GET", "/metrics", {}, {}, false).status == 404);
        CHECK(d.request("GET", d.api("/metrics")).status == 404);
    }
    test::temp_dir root;
    auto bad = test::run_binary({"--root", root.path, "--token", "t", "--metrics", "maybe"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("--metrics: 'maybe' must be on or off") != std::string::npos);
}

TEST_CASE("metrics: a unix listener serves /metrics without a token") {
    test::temp_dir root;
    std::string sock = root / "gw.sock";
    gateway d({"--listen", "unix:" + sock, "--listen", "127.0.0.1:0"}, root.path);
    auto text = test::sh("curl -s --max-time 5 --unix-socket " + sock + " http://x/metrics");
    CHECK(text.find("agent_gateway_connections_open") != std::string::npos);
}

TEST_CASE("metrics: WebSockets open now, the daemon's own and those tunnelled to an app") {
    test::upstream_service app;
    gateway d;
    nlohmann::json routes{
        {"mappings", {{{"port", app.port()}, {"pathPrefix", "/app"}, {"protected", false}}}}};
    REQUIRE(d.request("PUT", d.api("/port-forwarding"), routes.dump(), {{"Content-Type", "application/json"}})
                .status == 200);
    auto open_now = [&](const std::string& gauge) { return sample(scrape(d), gauge).value_or(-1); };
    CHECK(open_now("agent_gateway_proxy_websockets_open") == 0);
    CHECK(open_now("agent_gateway_websockets_open") == 0);
    {
        test::ws_client tunnel(d.port(), "/app/ws");
        REQUIRE(tunnel.send("ping"));
        REQUIRE(tunnel.read() == "ping"); // the tunnel is up
        test::ws_client logs(d.port(), d.api("/logs/stream?token=") + gateway::token);
        REQUIRE(logs.read()); // the backlog's first entry: the stream is up
        CHECK(open_now("agent_gateway_proxy_websockets_open") == 1);
        CHECK(open_now("agent_gateway_websockets_open") == 1);
    }
    // Closed by the client: each gauge goes back once the daemon saw its side end.
    CHECK(test::wait_until([&] { return open_now("agent_gateway_proxy_websockets_open") == 0; },
                           std::chrono::seconds(10)));
    CHECK(test::wait_until([&] { return open_now("agent_gateway_websockets_open") == 0; },
                           std::chrono::seconds(10)));
    auto text = scrape(d);
    CHECK(
        sample(
            text,
            R"(agent_gateway_http_requests_total{route="/v0/agents/{agentId}/logs/stream",method="WEBSOCKET",code="1xx"})") ==
        1);
}
