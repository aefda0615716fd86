// Shipping to Loki (docs/api.md §7): the push URL, timestamps, batches grouped into streams, the retry delay.
#include "logs/loki_push.hpp"
#include "logs/loki_shipper.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace ag::logs;
using json = nlohmann::json;

namespace {

entry make(std::uint64_t seq, std::string source, std::string message,
           std::string timestamp = "2026-11-30T12:00:00.123Z") {
    return entry{seq, std::move(timestamp), level::info, std::move(source), std::move(message)};
}

constexpr std::int64_t base_ns = 1796040000123000000; // 2026-11-30T12:00:00.123Z

} // namespace

TEST_CASE("loki: push URL gets Loki's path when it has none") {
    auto u = loki::split_push_url("http://127.0.0.1:3100");
    CHECK(u.base == "http://127.0.0.1:3100");
    CHECK(u.path == "/loki/api/v1/push");
    CHECK(loki::split_push_url("http://127.0.0.1:3100/").path == "/loki/api/v1/push");
    CHECK(loki::split_push_url("http://[::1]:8080/tenant-a/loki/api/v1/push").path ==
          "/tenant-a/loki/api/v1/push");
    CHECK(loki::split_push_url("http://[::1]:8080/x").base == "http://[::1]:8080");
    for (const char* bad : {"https://h:3100", "http://", "http://u@h", "http://h/p?q", "ftp://h"})
        CHECK_THROWS_AS(loki::split_push_url(bad), std::invalid_argument);
}

TEST_CASE("loki: timestamps are the entry's millisecond plus its seq below it") {
    CHECK(loki::unix_ns("2026-11-30T12:00:00.123Z") == base_ns);
    CHECK(loki::unix_ns("1970-01-01T00:00:00.000Z") == 0);
    CHECK_FALSE(loki::unix_ns("2026-11-30 12:00:00.123Z"));
    CHECK_FALSE(loki::unix_ns("2026-02-30T12:00:00.123Z"));
    CHECK_FALSE(loki::unix_ns(""));
    CHECK(loki::entry_ns(make(42, "engine", "x"), 0) == base_ns + 42);
    CHECK(loki::entry_ns(make(3'000'007, "engine", "x"), 0) == base_ns + 7);
    // A timestamp that does not parse: the fallback's millisecond.
    CHECK(loki::entry_ns(make(5, "engine", "x", "garbage"), 1'000'999'999) == 1'000'000'005);
    // The same entry always gets the same timestamp: a resent batch is a duplicate Loki can recognise.
    CHECK(loki::entry_ns(make(9, "a", "x"), 1) == loki::entry_ns(make(9, "a", "x"), 2));
}

TEST_CASE("loki: a batch is one stream per source, labelled, with entry lines in order") {
    std::vector<entry> es{make(1, "engine", "one"), make(2, "agent-gateway", "two"),
                          make(3, "engine", "three\n\"q\""), make(4, "", "no source")};
    auto b = loki::build_push(es, "agent-7", 1 << 20, 0);
    CHECK(b.entries == 4);
    CHECK(b.last_seq == 4);
    CHECK(b.streams == 3);
    auto j = json::parse(b.json);
    REQUIRE(j["streams"].size() == 3);
    auto& s0 = j["streams"][0];
    CHECK(s0["stream"] ==
          json{{"agent", "agent-7"}, {"service_name", "agent-gateway"}, {"source", "engine"}});
    REQUIRE(s0["values"].size() == 2);
    CHECK(s0["values"][0][0] == std::to_string(base_ns + 1));
    CHECK(s0["values"][1][0] == std::to_string(base_ns + 3));
    // The line is the entry as the journal and the WebSocket give it.
    auto line = json::parse(s0["values"][1][1].get<std::string>());
    CHECK(line == json{{"seq", 3},
                       {"timestamp", "2026-11-30T12:00:00.123Z"},
                       {"level", "INFO"},
                       {"source", "engine"},
                       {"message", "three\n\"q\""}});
    CHECK(j["streams"][1]["stream"]["source"] == "agent-gateway");
    CHECK(j["streams"][2]["stream"]["source"] == "unknown");
    // Every value is a pair of strings.
    for (auto& s : j["streams"])
        for (auto& v : s["values"]) {
            CHECK(v.size() == 2);
            CHECK(v[0].is_string());
            CHECK(v[1].is_string());
        }
}

TEST_CASE("loki: values in timestamp order within a stream even when seq order is not") {
    std::vector<entry> es{make(10, "engine", "late stamp", "2026-11-30T12:00:00.200Z"),
                          make(11, "engine", "early stamp", "2026-11-30T12:00:00.100Z")};
    auto j = json::parse(loki::build_push(es, "a", 1 << 20, 0).json);
    auto& v = j["streams"][0]["values"];
    CHECK(std::stoll(v[0][0].get<std::string>()) < std::stoll(v[1][0].get<std::string>()));
    CHECK(json::parse(v[0][1].get<std::string>())["seq"] == 11);
}

TEST_CASE("loki: batches stop at the byte limit, but hold at least one entry") {
    std::vector<entry> es;
    for (std::uint64_t i = 1; i <= 100; ++i)
        es.push_back(make(i, i % 2 ? "a" : "b", std::string(1000, 'x')));
    auto b = loki::build_push(es, "a", 10 * 1024, 0);
    CHECK(b.entries >= 8);
    CHECK(b.entries <= 10);
    CHECK(b.json.size() <= 10 * 1024);
    CHECK(b.last_seq == b.entries);
    auto one = loki::build_push(es, "a", 10, 0);
    CHECK(one.entries == 1);
    CHECK(json::parse(one.json)["streams"].size() == 1);
    // Long sources are cut on a character boundary (Loki limits label values).
    auto longsrc =
        loki::build_push(std::vector<entry>{make(1, std::string(300, 'x') + "é", "m")}, "a", 1 << 20, 0);
    CHECK(json::parse(longsrc.json)["streams"][0]["stream"]["source"].get<std::string>().size() ==
          loki::max_source_label_bytes);
}

TEST_CASE("loki: retries wait 1 s doubling to 60 s") {
    using ms = std::chrono::milliseconds;
    std::vector<long> got;
    for (unsigned f = 1; f <= 9; ++f)
        got.push_back(loki_shipper::retry_delay(f, ms(1000), ms(60000)).count());
    CHECK(got == std::vector<long>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000});
}
