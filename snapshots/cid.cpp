#include "snapshots/cid.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

namespace ag::snapshots {

namespace {

constexpr std::string_view b58_alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view b32_alphabet = "abcdefghijklmnopqrstuvwxyz234567";

std::optional<std::string> decode_base58(std::string_view s) {
    std::vector<unsigned char> num; // little-endian base 256
    for (char c : s) {
        auto at = b58_alphabet.find(c);
        if (at == std::string_view::npos)
            return std::nullopt;
        auto carry = static_cast<unsigned>(at);
        for (auto& d : num) {
            carry += d * 58u;
            d = static_cast<unsigned char>(carry & 0xff);
            carry >>= 8;
        }
        while (carry) {
            num.push_back(static_cast<unsigned char>(carry & 0xff));
            carry >>= 8;
        }
    }
    std::string out;
    for (char c : s) {
        if (c != '1')
            break;
        out.push_back('\0');
    }
    out.append(num.rbegin(), num.rend());
    return out;
}

std::optional<std::string> decode_base32(std::string_view s) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (char c : s) {
        auto at = b32_alphabet.find(c);
        if (at == std::string_view::npos)
            return std::nullopt;
        buffer = (buffer << 5) | static_cast<unsigned>(at);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    return out;
}

} // namespace

void append_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

std::string base58btc(std::string_view bytes) {
    std::vector<unsigned char> digits; // little-endian base 58
    for (unsigned char b : bytes) {
        unsigned carry = b;
        for (auto& d : digits) {
            carry += static_cast<unsigned>(d) << 8;
            d = static_cast<unsigned char>(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits.push_back(static_cast<unsigned char>(carry % 58));
            carry /= 58;
        }
    }
    std::string out;
    for (unsigned char b : bytes) {
        if (b != 0)
            break;
        out.push_back('1');
    }
    out.append(digits.size(), '\0');
    std::transform(digits.rbegin(), digits.rend(), out.end() - static_cast<std::ptrdiff_t>(digits.size()),
                   [](auto d) { return b58_alphabet[d]; });
    return out;
}

std::string base32_lower(std::string_view bytes) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char b : bytes) {
        buffer = (buffer << 8) | b;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out.push_back(b32_alphabet[(buffer >> bits) & 31]);
        }
    }
    if (bits > 0)
        out.push_back(b32_alphabet[(buffer << (5 - bits)) & 31]);
    return out;
}

std::string cid::binary() const {
    std::string out;
    if (version == 1) {
        out.push_back(1);
        out.push_back(static_cast<char>(kind));
    }
    out.push_back(0x12);
    out.push_back(0x20);
    out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    return out;
}

std::string cid::to_string() const {
    return version == 0 ? base58btc(binary()) : "b" + base32_lower(binary());
}

std::optional<cid> cid::from_binary(std::string_view b) {
    cid c;
    if (b.size() == 34 && b[0] == 0x12 && b[1] == 0x20) {
        c.version = 0;
    } else if (b.size() == 36 && b[0] == 1 && (b[1] == 0x55 || b[1] == 0x70) && b[2] == 0x12 &&
               b[3] == 0x20) {
        c.version = 1;
        c.kind = static_cast<codec>(b[1]);
        b.remove_prefix(2);
    } else {
        return std::nullopt;
    }
    std::copy(b.begin() + 2, b.end(), c.digest.begin());
    return c;
}

std::optional<cid> cid::parse(std::string_view text) {
    std::optional<std::string> bytes;
    if (text.size() == 46 && text.starts_with("Qm"))
        bytes = decode_base58(text);
    else if (text.size() > 1 && text[0] == 'b')
        bytes = decode_base32(text.substr(1));
    if (!bytes)
        return std::nullopt;
    auto c = from_binary(*bytes);
    // Only the canonical spelling: re-encoding must give the same text.
    if (!c || c->to_string() != text)
        return std::nullopt;
    return c;
}

cid cid_of(int version, codec kind, std::string_view block) {
    cid c;
    c.version = version;
    c.kind = version == 0 ? codec::dag_pb : kind;
    unsigned len = 0;
    EVP_Digest(block.data(), block.size(), c.digest.data(), &len, EVP_sha256(), nullptr);
    return c;
}

cid cid_of_parts(int version, codec kind, std::initializer_list<std::string_view> parts) {
    cid c;
    c.version = version;
    c.kind = version == 0 ? codec::dag_pb : kind;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    for (auto p : parts)
        EVP_DigestUpdate(ctx, p.data(), p.size());
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, c.digest.data(), &len);
    EVP_MD_CTX_free(ctx);
    return c;
}

} // namespace ag::snapshots
