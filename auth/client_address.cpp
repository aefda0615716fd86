#include "auth/client_address.hpp"

#include "util/text.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace ag::auth {

namespace {

// Address bytes in IPv6 form (IPv4 as ::ffff:a.b.c.d); brackets and a zone are not accepted.
std::optional<std::array<std::uint8_t, 16>> parse_address(std::string_view text) {
    std::string s(text);
    std::array<std::uint8_t, 16> out{};
    in_addr v4{};
    if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        out[10] = out[11] = 0xff;
        std::memcpy(out.data() + 12, &v4, 4);
        return out;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
        std::memcpy(out.data(), &v6, 16);
        return out;
    }
    return std::nullopt;
}

} // namespace

bool cidr::contains(std::string_view address) const {
    auto a = parse_address(address);
    if (!a)
        return false;
    unsigned bits = prefix;
    for (std::size_t i = 0; i < 16 && bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8 : bits;
        const auto mask = static_cast<std::uint8_t>(0xff00u >> take);
        if (((*a)[i] & mask) != (bytes[i] & mask))
            return false;
        bits -= take;
    }
    return true;
}

std::optional<cidr> parse_cidr(std::string_view text) {
    text = text::trim(text);
    auto slash = text.find('/');
    auto addr = parse_address(text.substr(0, slash));
    if (!addr)
        return std::nullopt;
    const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
    unsigned max = v4 ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        auto n = text::parse_u64(text.substr(slash + 1));
        if (!n || *n > max)
            return std::nullopt;
        prefix = static_cast<unsigned>(*n);
    }
    return cidr{*addr, v4 ? prefix + 96 : prefix};
}

bool is_trusted(std::string_view address, const std::vector<cidr>& trusted) {
    for (const auto& c : trusted)
        if (c.contains(address))
            return true;
    return false;
}

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<cidr>& trusted) {
    if (trusted.empty() || !is_trusted(peer, trusted))
        return std::string(peer);
    std::string_view client = peer;
    while (!forwarded_for.empty()) {
        auto comma = forwarded_for.rfind(',');
        std::string_view hop =
            text::trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
        forwarded_for = comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
        if (hop.empty())
            continue;
        // A hop that is not an address (a proxy's "unknown", a port suffix) ends what can be believed.
        if (!parse_address(hop))
            break;
        client = hop;
        if (!is_trusted(hop, trusted))
            break;
    }
    return std::string(client);
}

} // namespace ag::auth
