#pragma once
// Who a request comes from (docs/api.md §4, §5): the TCP peer, or, when the peer is a trusted proxy, the last
// X-Forwarded-For hop that is not one. Pure functions.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::auth {

// An IPv4 or IPv6 network; IPv4 addresses also match as IPv4-mapped IPv6 (::ffff:a.b.c.d).
struct cidr {
    std::array<std::uint8_t, 16> bytes{}; // IPv6, or IPv4-mapped
    unsigned prefix = 0;                  // bits of `bytes` that must match
    bool contains(std::string_view address) const;
};

// "10.0.0.0/8", "fd00::/8", or a single address (a full-length prefix). nullopt when malformed.
std::optional<cidr> parse_cidr(std::string_view text);

bool is_trusted(std::string_view address, const std::vector<cidr>& trusted);

// `forwarded_for` is every X-Forwarded-For value of the request, joined by commas. Hops are read from the
// right: each trusted one is skipped; the first that is not trusted is the client. A peer that is not
// trusted is the client whatever the header says.
std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<cidr>& trusted);

} // namespace ag::auth
