#include "logs/decode.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace ag::logs {
namespace {

using json = nlohmann::json;

std::string as_text(const json& v) {
    if (v.is_string())
        return v.get<std::string>();
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> string_field(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it != obj.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
        return it->get<std::string>();
    return std::nullopt;
}

// pino and bunyan write numeric levels: 10 trace … 60 fatal.
std::optional<level> level_of(const json& v) {
    if (v.is_string())
        return parse_level(v.get_ref<const std::string&>());
    if (v.is_number()) {
        double n = v.get<double>();
        if (n >= 60)
            return level::fatal;
        if (n >= 50)
            return level::error;
        if (n >= 40)
            return level::warn;
        if (n >= 30)
            return level::info;
        if (n >= 20)
            return level::debug;
        return level::trace;
    }
    return std::nullopt;
}

// tslog names its logger with a JSON string such as {"subsystem":"gateway/ws"}.
std::optional<std::string> tslog_source(const json& meta) {
    auto name = string_field(meta, "name");
    if (!name)
        return std::nullopt;
    if (name->front() == '{') {
        auto j = json::parse(*name, nullptr, false);
        if (j.is_object())
            return string_field(j, "subsystem");
        return std::nullopt;
    }
    return name;
}

bool decode_tslog(const json& j, decoded_line& out) {
    auto meta = j.find("_meta");
    if (meta == j.end() || !meta->is_object())
        return false;
    // Arguments are keys "0", "1", …; their order in the object is not guaranteed, so collect and sort.
    std::vector<std::pair<unsigned long, const json*>> args;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        if (k.empty() || k.size() > 6 ||
            !std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        args.emplace_back(std::strtoul(k.c_str(), nullptr, 10), &it.value());
    }
    std::sort(args.begin(), args.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (const auto& [i, v] : args) {
        if (!out.message.empty())
            out.message += ' ';
        out.message += as_text(*v);
    }
    if (auto l = meta->find("logLevelName"); l != meta->end())
        if (auto lv = level_of(*l))
            out.lvl = *lv;
    if (auto s = tslog_source(*meta))
        out.source = std::move(*s);
    return true;
}

bool decode_plain(const json& j, decoded_line& out) {
    auto msg = j.find("msg");
    if (msg == j.end())
        msg = j.find("message");
    if (msg == j.end())
        return false;
    out.message = as_text(*msg);
    if (auto l = j.find("level"); l != j.end())
        if (auto lv = level_of(*l))
            out.lvl = *lv;
    for (const char* key : {"source", "subsystem"})
        if (auto s = string_field(j, key)) {
            out.source = std::move(*s);
            break;
        }
    return true;
}

} // namespace

decoded_line decode_line(std::string_view line, std::string_view default_source) {
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    decoded_line out;
    out.source = std::string(default_source);
    std::size_t first = line.find_first_not_of(" \t");
    if (first != std::string_view::npos && line[first] == '{' && line.back() == '}') {
        auto j = json::parse(line, nullptr, false);
        if (j.is_object() && (decode_tslog(j, out) || decode_plain(j, out)))
            return out;
        out.lvl = level::info;
        out.source = std::string(default_source);
        out.message.clear();
    }
    out.message = std::string(line);
    return out;
}

} // namespace ag::logs
