#pragma once
// The little of RFC 6455 framing the log stream writes itself: server frames are never masked, so one encoded
// frame can be written to every subscriber as is, and many frames go out in one write. Parsing covers what a
// client sends (masked frames; control frames answered, data ignored).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ag::logs::ws {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// A complete unmasked frame (FIN set) carrying `payload`.
std::string encode(opcode op, std::string_view payload);
// A close frame with `code` and a reason (cut to fit a control frame).
std::string encode_close(std::uint16_t code, std::string_view reason = {});

struct frame {
    opcode op;
    bool fin;
    std::string payload; // unmasked; left empty for data frames (the stream ignores what clients send)
};

// Incremental parser of client frames.
class parser {
public:
    enum class status { need_more, frame_ready, protocol_error };
    // Consumes bytes from `in` (advancing it); on frame_ready, `out` holds the frame.
    status feed(std::string_view& in, frame& out);

private:
    std::string header_;
    std::uint64_t remaining_ = 0;
    bool in_payload_ = false;
    frame current_{};
    unsigned char mask_[4]{};
    std::uint64_t offset_ = 0;
};

} // namespace ag::logs::ws
