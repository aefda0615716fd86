#include "util/base64.hpp"

#include <array>
#include <cstdint>

namespace ag::base64 {
namespace {

constexpr std::uint8_t invalid = 0xFF;
constexpr std::uint8_t space = 0xFE;
constexpr std::uint8_t pad = 0xFD;

constexpr std::array<std::uint8_t, 256> make_table() {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t)
        v = invalid;
    constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
    for (char c : {' ', '\t', '\n', '\r', '\f', '\v'})
        t[static_cast<unsigned char>(c)] = space;
    t['='] = pad;
    return t;
}
constexpr auto table = make_table();

} // namespace

std::size_t decoded_size_bound(std::string_view in) noexcept {
    return (in.size() / 4) * 3 + 3;
}

bool decode(std::string_view in, std::string& out) {
    out.resize(decoded_size_bound(in));
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    const auto* src = reinterpret_cast<const unsigned char*>(in.data());
    const auto* end = src + in.size();

    // Fast path: whole quads of alphabet characters, no whitespace or padding.
    while (end - src >= 4) {
        std::uint32_t a = table[src[0]], b = table[src[1]], c = table[src[2]], d = table[src[3]];
        if ((a | b | c | d) & 0xC0)
            break;
        std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
        dst[0] = static_cast<unsigned char>(v >> 16);
        dst[1] = static_cast<unsigned char>(v >> 8);
        dst[2] = static_cast<unsigned char>(v);
        src += 4;
        dst += 3;
    }

    // Slow path: whitespace anywhere, padding only at the end.
    std::uint32_t acc = 0;
    int n = 0;
    int pads = 0;
    for (; src != end; ++src) {
        std::uint8_t v = table[*src];
        if (v == space)
            continue;
        if (v == invalid)
            return false;
        if (v == pad) {
            ++pads;
            continue;
        }
        if (pads)
            return false; // data after padding
        acc = (acc << 6) | v;
        if (++n == 4) {
            *dst++ = static_cast<unsigned char>(acc >> 16);
            *dst++ = static_cast<unsigned char>(acc >> 8);
            *dst++ = static_cast<unsigned char>(acc);
            acc = 0;
            n = 0;
        }
    }
    if (n == 1)
        return false;
    if (pads && (n == 0 || n + pads != 4))
        return false;
    if (n == 2) {
        *dst++ = static_cast<unsigned char>(acc >> 4);
    } else if (n == 3) {
        *dst++ = static_cast<unsigned char>(acc >> 10);
        *dst++ = static_cast<unsigned char>(acc >> 2);
    }
    out.resize(static_cast<std::size_t>(dst - reinterpret_cast<unsigned char*>(out.data())));
    return true;
}

std::string encode(std::string_view in) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (std::size_t rest = in.size() - i) {
        std::uint32_t v = p[i] << 16;
        if (rest == 2)
            v |= p[i + 1] << 8;
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string encode_url(std::string_view in) {
    std::string out = encode(in);
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    for (char& c : out)
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

} // namespace ag::base64
