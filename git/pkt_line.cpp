#include "git/pkt_line.hpp"

#include "git/libgit2.hpp"
#include "util/text.hpp"

namespace ag::git {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_length(std::string& out, std::size_t n) {
    out.push_back(hex_digits[(n >> 12) & 15]);
    out.push_back(hex_digits[(n >> 8) & 15]);
    out.push_back(hex_digits[(n >> 4) & 15]);
    out.push_back(hex_digits[n & 15]);
}

} // namespace

void append_pkt(std::string& out, std::string_view payload) {
    append_length(out, payload.size() + 4);
    out.append(payload);
}

void append_band(std::string& out, int band, std::string_view data) {
    do {
        std::size_t n = std::min(data.size(), max_band_payload);
        append_length(out, n + 5);
        out.push_back(static_cast<char>(band));
        out.append(data.substr(0, n));
        data.remove_prefix(n);
    } while (!data.empty());
}

std::optional<std::size_t> pkt_length(std::string_view data) {
    if (data.size() < 4)
        return std::nullopt;
    std::size_t n = 0;
    for (int i = 0; i < 4; ++i) {
        int v = text::hex_value(data[i]);
        if (v < 0)
            throw error("protocol error: bad pkt-line length");
        n = n * 16 + static_cast<std::size_t>(v);
    }
    if (n == 3 || n > max_pkt_payload + 4)
        throw error("protocol error: bad pkt-line length");
    return n;
}

pkt_reader::pkt pkt_reader::next() {
    std::string_view rest = data_.substr(pos_);
    if (rest.empty())
        return {};
    auto n = pkt_length(rest);
    if (!n)
        throw error("protocol error: truncated pkt-line");
    if (*n <= 2) {
        pos_ += 4;
        return {*n == 0 ? pkt::flush : pkt::delim, {}};
    }
    if (*n == 3 || rest.size() < *n)
        throw error("protocol error: truncated pkt-line");
    std::string_view payload = rest.substr(4, *n - 4);
    pos_ += *n;
    if (!payload.empty() && payload.back() == '\n')
        payload.remove_suffix(1);
    return {pkt::data, payload};
}

} // namespace ag::git
