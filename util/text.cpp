#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ag::text {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::string_view utf8_prefix(std::string_view in, std::size_t max_bytes) noexcept {
    if (in.size() <= max_bytes)
        return in;
    // in[end] is the first byte left out: while it continues a sequence, that sequence goes too. A sequence
    // is at most 4 bytes, so at most 3 steps back (more continuation bytes than that were never one
    // character).
    std::size_t end = max_bytes;
    for (int back = 0; back < 3 && end > 0 && (static_cast<unsigned char>(in[end]) & 0xC0) == 0x80; ++back)
        --end;
    return in.substr(0, end);
}

std::string to_valid_utf8(std::string_view in) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(in.size());
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t n = in.size();
    std::size_t i = 0;
    while (i < n) {
        // ASCII runs are the common case.
        std::size_t start = i;
        while (i < n && s[i] < 0x80)
            ++i;
        out.append(in.data() + start, i - start);
        if (i >= n)
            break;
        unsigned char c = s[i];
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        }
        if (len == 0) {
            out += replacement;
            ++i;
            continue;
        }
        std::size_t j = 1;
        for (; j < len && i + j < n; ++j) {
            unsigned char cc = s[i + j];
            unsigned char l = j == 1 ? lo : 0x80, h = j == 1 ? hi : 0xBF;
            if (cc < l || cc > h)
                break;
        }
        if (j == len) {
            out.append(in.data() + i, len);
            i += len;
        } else {
            out += replacement;
            i += j; // the maximal subpart is replaced once
        }
    }
    return out;
}

std::string percent_decode(std::string_view in, bool plus_is_space) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '+' && plus_is_space) {
            out += ' ';
        } else if (c == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

query_params parse_query(std::string_view query) {
    query_params out;
    while (!query.empty()) {
        auto amp = query.find('&');
        auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty())
            continue;
        auto eq = part.find('=');
        if (eq == std::string_view::npos)
            out.emplace_back(form_decode(part), std::string{});
        else
            out.emplace_back(form_decode(part.substr(0, eq)), form_decode(part.substr(eq + 1)));
    }
    return out;
}

std::optional<std::string_view> find_param(const query_params& params, std::string_view key) {
    for (const auto& [k, v] : params)
        if (k == key)
            return std::string_view(v);
    return std::nullopt;
}

std::string redact_target(std::string_view target, std::string_view secret) {
    auto q = target.find('?');
    std::string out(target.substr(0, q == std::string_view::npos ? target.size() : q + 1));
    // In the path, the token itself never reaches a log either. The search goes on behind each replacement:
    // a token found inside "REDACTED" (say "T") would otherwise be replaced forever.
    if (!secret.empty())
        for (auto at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 8))
            out.replace(at, secret.size(), "REDACTED");
    std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    while (!query.empty()) {
        // '&' and ';' both separate pairs for some server or other: redact whatever either would see.
        auto sep = query.find_first_of("&;");
        auto part = query.substr(0, sep);
        char separator = sep == std::string_view::npos ? '\0' : query[sep];
        query = sep == std::string_view::npos ? std::string_view{} : query.substr(sep + 1);
        auto eq = part.find('=');
        std::string key = form_decode(part.substr(0, eq));
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
        if (auto bracket = key.find('['); bracket != std::string::npos)
            key.resize(bracket); // token[]=, token[0]=
        const std::string value = eq == std::string_view::npos ? "" : form_decode(part.substr(eq + 1));
        if (key == "token")
            out += "token=REDACTED";
        else if (key == "gw_token" || (!secret.empty() && (value.find(secret) != std::string::npos ||
                                                           part.find(secret) != std::string_view::npos)))
            out.append(part.substr(0, eq)).append("=REDACTED");
        else
            out.append(part);
        if (separator)
            out += separator;
    }
    return out;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) noexcept {
    if (s.empty())
        return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = static_cast<char>(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

} // namespace ag::text
