// The instruments and their exposition (docs/api.md §16): what a scrape says after known observations.
#include "metrics/registry.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace ag::metrics;
using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("histogram: each duration lands in the first bucket whose bound it does not exceed") {
    histogram h;
    h.observe(50us);  // ≤ 100 µs
    h.observe(100us); // exactly a bound: that bucket
    h.observe(101us); // the next
    h.observe(2s);    // ≤ 2.5 s
    h.observe(5min);  // past 60 s
    h.observe(-1ms);  // a clock that went back counts as 0
    CHECK(h.count_in(0) == 3);
    CHECK(h.count_in(1) == 1);
    CHECK(h.count_in(13) == 1); // 2.5
    CHECK(h.count_in(histogram::bounds.size()) == 1);
    CHECK(h.count() == 6);
    CHECK(h.sum_seconds() == doctest::Approx(302.000251));
}

TEST_CASE("registry: counters, gauges and histograms in the text format, buckets cumulative") {
    registry r;
    auto& c = r.add_counter("agent_gateway_things_total", "Things", {{"kind", "a"}});
    c.add(3);
    auto& g = r.add_gauge("agent_gateway_open", "Open now");
    g.add(2);
    g.add(-1);
    auto& h = r.add_histogram("agent_gateway_took_seconds", "Took");
    h.observe(200us);
    h.observe(3ms);
    r.add_gauge_fn("agent_gateway_answer", "The answer", {}, [] { return 42.0; });
    auto text = r.scrape();
    CHECK(has_line(text, "# TYPE agent_gateway_things_total counter"));
    CHECK(has_line(text, "agent_gateway_things_total{kind=\"a\"} 3"));
    CHECK(has_line(text, "# TYPE agent_gateway_open gauge"));
    CHECK(has_line(text, "agent_gateway_open 1"));
    CHECK(has_line(text, "agent_gateway_answer 42"));
    CHECK(has_line(text, "# TYPE agent_gateway_took_seconds histogram"));
    CHECK(has_line(text, "agent_gateway_took_seconds_bucket{le=\"0.0001\"} 0"));
    CHECK(has_line(text, "agent_gateway_took_seconds_bucket{le=\"0.00025\"} 1"));
    CHECK(has_line(text, "agent_gateway_took_seconds_bucket{le=\"0.0025\"} 1"));
    CHECK(has_line(text, "agent_gateway_took_seconds_bucket{le=\"0.005\"} 2"));
    CHECK(has_line(text, "agent_gateway_took_seconds_bucket{le=\"+Inf\"} 2"));
    CHECK(has_line(text, "agent_gateway_took_seconds_count 2"));
}

TEST_CASE("registry: a route's series appear once it counted something, by status class") {
    registry r;
    auto& used = r.add_route("GET", "/v0/agents/{agentId}/files");
    r.add_route("POST", "/v0/agents/{agentId}/console/exec");
    CHECK(r.scrape().find("agent_gateway_http_requests_total{") == std::string::npos);
    used.record(200, 1ms);
    used.record(404, 1ms);
    used.record(404, 1ms);
    used.record(99, 1ms); // nonsense statuses count as 5xx rather than vanish
    auto text = r.scrape();
    CHECK(has_line(text, "agent_gateway_http_requests_total{route=\"/v0/agents/{agentId}/"
                         "files\",method=\"GET\",code=\"2xx\"} 1"));
    CHECK(has_line(text, "agent_gateway_http_requests_total{route=\"/v0/agents/{agentId}/"
                         "files\",method=\"GET\",code=\"4xx\"} 2"));
    CHECK(has_line(text, "agent_gateway_http_requests_total{route=\"/v0/agents/{agentId}/"
                         "files\",method=\"GET\",code=\"5xx\"} 1"));
    CHECK(text.find("code=\"3xx\"") == std::string::npos);
    CHECK(text.find("console/exec") == std::string::npos);
    CHECK(has_line(text, "agent_gateway_http_request_duration_seconds_count{route=\"/v0/agents/{agentId}/"
                         "files\",method=\"GET\"} 4"));
}

TEST_CASE("registry: one name cannot have two types") {
    registry r;
    r.add_counter("agent_gateway_x", "x");
    CHECK_THROWS_AS(r.add_gauge("agent_gateway_x", "x"), std::logic_error);
}
