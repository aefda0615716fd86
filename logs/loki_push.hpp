#pragma once
// What the Loki shipper sends (docs/api.md §7, "Shipping to Loki"): journal entries as one JSON body of
// Loki's push API, streams grouped by label set. Pure functions, value in, value out; thread-safe.
#include "logs/journal.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ag::logs::loki {

constexpr std::string_view default_push_path = "/loki/api/v1/push";
constexpr std::size_t max_source_label_bytes = 256;

// The URL split for the HTTP client: "http://HOST[:PORT]" and the path to POST to. A URL without a path (or
// with "/" alone) gets Loki's own push path; any other path is used as given (a proxy's prefix, say).
struct push_url {
    std::string base;
    std::string path;
};
// Throws std::invalid_argument for what is not http://AUTHORITY[/path] without user info, query or fragment.
push_url split_push_url(std::string_view url);

// Unix time in nanoseconds of a journal timestamp (2026-11-30T12:00:00.000Z); nullopt if it does not parse.
std::optional<std::int64_t> unix_ns(std::string_view iso8601_ms);

// The timestamp sent for an entry: its millisecond, plus its seq modulo 10^6 as the nanoseconds below it. A
// function of the entry alone, so an entry sent again after a crash carries the same timestamp and line, and
// entries of one millisecond keep their seq order. `fallback_ns` stands in for a timestamp that does not
// parse.
std::int64_t entry_ns(const entry& e, std::int64_t fallback_ns);

struct push_body {
    std::string json;        // {"streams":[{"stream":{…},"values":[["<ns>","<line>"],…]},…]}
    std::size_t entries = 0; // how many of the given entries it holds (a prefix of them)
    std::uint64_t last_seq = 0;
    std::size_t streams = 0;
};

// The longest prefix of `entries` (at least one) whose body stays within about `max_bytes`, grouped into one
// stream per source with the labels agent, service_name and source; each stream's values in timestamp
// order. The line is the entry's JSON as the journal stores it ({"seq","timestamp","level","source",
// "message"}).
push_body build_push(std::span<const entry> entries, std::string_view agent_id, std::size_t max_bytes,
                     std::int64_t fallback_ns);

} // namespace ag::logs::loki
