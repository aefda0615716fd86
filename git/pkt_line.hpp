#pragma once
// pkt-line framing (gitprotocol-common) and side-band multiplexing (gitprotocol-capabilities).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ag::git {

inline constexpr std::size_t max_pkt_payload = 65516;  // LARGE_PACKET_MAX 65520 minus the length header
inline constexpr std::size_t max_band_payload = 65515; // one byte less for the band number
inline constexpr std::string_view flush_pkt = "0000";

// Appends one pkt-line carrying `payload` (at most max_pkt_payload bytes).
void append_pkt(std::string& out, std::string_view payload);
// Appends `data` on side-band `band` (1 pack, 2 progress, 3 fatal error), split into as many pkts as needed.
void append_band(std::string& out, int band, std::string_view data);

// Reads pkt-lines from a buffer that holds whole pkts (a request body). Throws git::error on bad framing.
class pkt_reader {
public:
    explicit pkt_reader(std::string_view data)
        : data_(data) {}
    struct pkt {
        enum kind_t { data, flush, delim, end } kind = end;
        std::string_view payload; // without a trailing LF
    };
    pkt next();
    std::size_t offset() const { return pos_; }

private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

// The length of the pkt at the start of `data`: nullopt when fewer than 4 bytes are there; throws git::error
// when the header is not a valid pkt length.
std::optional<std::size_t> pkt_length(std::string_view data);

} // namespace ag::git
