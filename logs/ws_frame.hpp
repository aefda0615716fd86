#pragma once
// The little of RFC 6455 framing the log stream writes itself: server frames are never masked, so one encoded
// frame can be written to every subscriber as is, and many frames go out in one write. Parsing covers what a
// client sends (masked frames; control frames answered, data checked and ignored).
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
    opcode op{};
    bool fin = false;
    std::string payload; // unmasked; left empty for data frames (the stream ignores what clients send)
};

// Whether a close code may be sent by a peer (RFC 6455 §7.4): 1000-1003, 1007-1014, 3000-4999.
bool valid_close_code(std::uint16_t code) noexcept;

// Incremental parser of client frames. Beyond framing it checks what RFC 6455 §5.4, §5.5.1 and §8.1 ask of a
// receiver: fragments in order, close payloads of 0 or 2+ bytes with a valid code, and text (messages and
// close reasons) that is valid UTF-8, checked as it arrives.
class parser {
public:
    enum class status { need_more, frame_ready, protocol_error, invalid_utf8 };
    // Consumes bytes from `in` (advancing it); on frame_ready, `out` holds the frame. After protocol_error
    // answer with close 1002, after invalid_utf8 with 1007.
    status feed(std::string_view& in, frame& out);

private:
    // UTF-8 of the current text message, across its fragments.
    bool utf8_step(unsigned char b) noexcept;
    int utf8_need_ = 0;
    unsigned char utf8_lo_ = 0x80, utf8_hi_ = 0xBF;
    bool in_message_ = false; // a fragmented message has begun
    bool text_message_ = false;

    std::string header_;
    std::uint64_t remaining_ = 0;
    bool in_payload_ = false;
    frame current_{};
    unsigned char mask_[4]{};
    std::uint64_t offset_ = 0;
};

} // namespace ag::logs::ws
