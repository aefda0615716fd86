#include "handlers/file_rules.hpp"

#include "util/text.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace ag::file_rules {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace

std::string content_type_for(std::string_view path) {
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"markdown", "text/markdown; charset=utf-8"},
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"},
        {"log", "text/plain; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"ts", "text/plain; charset=utf-8"},
        {"py", "text/x-python; charset=utf-8"},
        {"sh", "text/x-shellscript; charset=utf-8"},
        {"yaml", "text/yaml; charset=utf-8"},
        {"yml", "text/yaml; charset=utf-8"},
        {"toml", "text/plain; charset=utf-8"},
        {"xml", "text/xml; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"json", "application/json; charset=utf-8"},
        {"json5", "application/json5; charset=utf-8"},
        {"jsonl", "application/x-ndjson; charset=utf-8"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"pdf", "application/pdf"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
        {"tar", "application/x-tar"},
        {"wasm", "application/wasm"},
        {"mp3", "audio/mpeg"},
        {"wav", "audio/wav"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
        {"woff2", "font/woff2"},
    };
    auto slash = path.rfind('/');
    auto base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    auto dot = base.rfind('.');
    if (dot == std::string_view::npos || dot == 0)
        return "application/octet-stream";
    auto ext = lower(base.substr(dot + 1));
    for (const auto& [e, t] : types)
        if (e == ext)
            return std::string(t);
    return "application/octet-stream";
}

range_result parse_range(std::string_view header, std::uint64_t size) {
    range_result r;
    header = trim(header);
    if (!header.starts_with("bytes="))
        return r;
    auto spec = trim(header.substr(6));
    if (spec.find(',') != std::string_view::npos) {
        r.status = range_status::multiple;
        return r;
    }
    auto dash = spec.find('-');
    if (dash == std::string_view::npos)
        return r;
    auto first_s = trim(spec.substr(0, dash)), last_s = trim(spec.substr(dash + 1));
    if (first_s.empty()) {
        // bytes=-N: the last N bytes.
        auto n = text::parse_u64(last_s);
        if (!n)
            return r;
        if (*n == 0 || size == 0) {
            r.status = range_status::unsatisfiable;
            return r;
        }
        auto len = std::min(*n, size);
        r.status = range_status::ok;
        r.range = {size - len, len};
        return r;
    }
    auto first = text::parse_u64(first_s);
    if (!first)
        return r;
    std::uint64_t last = size ? size - 1 : 0;
    if (!last_s.empty()) {
        auto l = text::parse_u64(last_s);
        if (!l || *l < *first)
            return r;
        last = std::min(*l, last);
    }
    if (*first >= size) {
        r.status = range_status::unsatisfiable;
        return r;
    }
    r.status = range_status::ok;
    r.range = {*first, last - *first + 1};
    return r;
}

std::string etag_for(std::uint64_t size, std::int64_t mtime_ns, std::uint64_t inode) {
    return fmt::format("W/\"{:x}-{:x}-{:x}\"", size, static_cast<std::uint64_t>(mtime_ns), inode);
}

bool etag_matches(std::string_view header, std::string_view etag) {
    auto opaque = [](std::string_view t) {
        t = trim(t);
        if (t.starts_with("W/"))
            t.remove_prefix(2);
        return t;
    };
    while (!header.empty()) {
        auto comma = header.find(',');
        auto item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        if (item == "*" || (!item.empty() && opaque(item) == opaque(etag)))
            return true;
    }
    return false;
}

bool valid_upload_name(std::string_view name) {
    if (name.empty() || name.size() > max_name_bytes || name == "." || name == "..")
        return false;
    return name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

std::string numbered_name(std::string_view name, int attempt) {
    if (attempt == 0)
        return std::string(name);
    const std::string suffix = fmt::format("-{}", attempt);
    auto dot = name.rfind('.');
    std::string_view stem = name, ext;
    // An extension keeps its place unless it alone would leave no room for the stem.
    if (dot != std::string_view::npos && dot != 0 && name.size() - dot + suffix.size() < max_name_bytes) {
        stem = name.substr(0, dot);
        ext = name.substr(dot);
    }
    // A name that would pass 255 bytes with its suffix is shortened before the extension, on a character
    // boundary.
    std::size_t room = max_name_bytes - suffix.size() - ext.size();
    if (stem.size() > room) {
        while (room > 0 && (static_cast<unsigned char>(stem[room]) & 0xC0) == 0x80)
            --room;
        stem = stem.substr(0, room);
    }
    return fmt::format("{}{}{}", stem, suffix, ext);
}

std::optional<std::string_view> strip_data_url(std::string_view content) {
    auto start = content.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos || content.substr(start, 5) != "data:")
        return content;
    auto comma = content.find(',', start);
    if (comma == std::string_view::npos)
        return std::nullopt;
    auto meta = content.substr(start, comma - start);
    if (!meta.ends_with(";base64"))
        return std::nullopt;
    return content.substr(comma + 1);
}

} // namespace ag::file_rules
