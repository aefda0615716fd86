#pragma once
// Content identifiers as IPFS writes them: sha2-256 multihashes, CIDv0 (base58btc "Qm…", always dag-pb) and
// CIDv1 (base32 "b…", dag-pb 0x70 or raw 0x55).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace ag::snapshots {

enum class codec : std::uint8_t { raw = 0x55, dag_pb = 0x70 };

struct cid {
    int version = 0;
    codec kind = codec::dag_pb;
    std::array<unsigned char, 32> digest{};

    // v0: 12 20 <digest>; v1: 01 <codec> 12 20 <digest>.
    std::string binary() const;
    std::string to_string() const;
    bool operator==(const cid&) const = default;

    static std::optional<cid> parse(std::string_view text);
    static std::optional<cid> from_binary(std::string_view bytes);
};

// The CID of `block` (sha2-256).
cid cid_of(int version, codec kind, std::string_view block);
// The same for a block given in pieces (hashed in place, never joined).
cid cid_of_parts(int version, codec kind, std::initializer_list<std::string_view> parts);

void append_varint(std::string& out, std::uint64_t v);
std::string base58btc(std::string_view bytes);
std::string base32_lower(std::string_view bytes); // RFC 4648, no padding

} // namespace ag::snapshots
