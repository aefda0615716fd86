#include "logs/loki_push.hpp"

#include "util/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ag::logs::loki {
namespace {

std::string json_string(std::string_view s) {
    return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Digits at `s[at..at+n)` as a number; -1 when one is not a digit.
int digits(std::string_view s, std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

} // namespace

push_url split_push_url(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme))
        throw std::invalid_argument("must start with http:// (the daemon's HTTP client speaks plain HTTP)");
    auto rest = url.substr(scheme.size());
    auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (authority.empty())
        throw std::invalid_argument("has no host");
    if (authority.find('@') != std::string_view::npos)
        throw std::invalid_argument("must not carry user info");
    if (url.find_first_of("?# \t\r\n") != std::string_view::npos)
        throw std::invalid_argument("must not hold a query, a fragment or white space");
    push_url out{std::string(scheme) + std::string(authority), {}};
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    out.path = path.empty() || path == "/" ? std::string(default_push_path) : std::string(path);
    return out;
}

std::optional<std::int64_t> unix_ns(std::string_view s) {
    // 2026-11-30T12:00:00.000Z
    if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[19] != '.' || s[23] != 'Z')
        return std::nullopt;
    int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
    int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2), ms = digits(s, 20, 3);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || ms < 0)
        return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok())
        return std::nullopt;
    auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{ms};
    return duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

std::int64_t entry_ns(const entry& e, std::int64_t fallback_ns) {
    auto ns = unix_ns(e.timestamp);
    std::int64_t ms_ns = ns ? *ns : fallback_ns - fallback_ns % 1'000'000;
    return ms_ns + static_cast<std::int64_t>(e.seq % 1'000'000);
}

push_body build_push(std::span<const entry> entries, std::string_view agent_id, std::size_t max_bytes,
                     std::int64_t fallback_ns) {
    struct stream {
        std::string labels;
        std::vector<std::pair<std::int64_t, std::string>> values; // timestamp, encoded ["ns",line]
    };
    std::vector<stream> streams;
    const std::string agent = json_string(agent_id);
    push_body out;
    std::size_t bytes = 16;
    for (const auto& e : entries) {
        std::string_view source = e.source.empty() ? std::string_view("unknown") : std::string_view(e.source);
        source = text::utf8_prefix(source, max_source_label_bytes);
        std::string labels = R"({"agent":)" + agent + R"(,"service_name":"agent-gateway","source":)" +
                             json_string(source) + "}";
        std::int64_t ns = entry_ns(e, fallback_ns);
        std::string value = "[\"" + std::to_string(ns) + "\"," + json_string(to_json(e)) + "]";
        auto it =
            std::find_if(streams.begin(), streams.end(), [&](const stream& s) { return s.labels == labels; });
        std::size_t cost = value.size() + 1 + (it == streams.end() ? labels.size() + 24 : 0);
        if (out.entries > 0 && bytes + cost > max_bytes)
            break;
        bytes += cost;
        if (it == streams.end()) {
            streams.push_back({std::move(labels), {}});
            it = std::prev(streams.end());
        }
        it->values.emplace_back(ns, std::move(value));
        ++out.entries;
        out.last_seq = e.seq;
    }
    out.json.reserve(bytes + 16);
    out.json += R"({"streams":[)";
    for (std::size_t i = 0; i < streams.size(); ++i) {
        auto& s = streams[i];
        // Loki wants each stream's entries in timestamp order; within a stream they are in seq order already,
        // save for the rare entry stamped a moment before the one numbered just ahead of it.
        std::stable_sort(s.values.begin(), s.values.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        if (i > 0)
            out.json += ',';
        out.json += R"({"stream":)";
        out.json += s.labels;
        out.json += R"(,"values":[)";
        for (std::size_t k = 0; k < s.values.size(); ++k) {
            if (k > 0)
                out.json += ',';
            out.json += s.values[k].second;
        }
        out.json += "]}";
    }
    out.json += "]}";
    out.streams = streams.size();
    return out;
}

} // namespace ag::logs::loki
