#include "logs/ws_frame.hpp"

namespace ag::logs::ws {

std::string encode(opcode op, std::string_view payload) {
    std::string out;
    std::size_t n = payload.size();
    out.reserve(n + 10);
    out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(op)));
    if (n < 126) {
        out.push_back(static_cast<char>(n));
    } else if (n <= 0xffff) {
        out.push_back(126);
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
    } else {
        out.push_back(127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff));
    }
    out.append(payload);
    return out;
}

std::string encode_close(std::uint16_t code, std::string_view reason) {
    std::string payload;
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xff));
    payload.append(reason.substr(0, 123));
    return encode(opcode::close, payload);
}

parser::status parser::feed(std::string_view& in, frame& out) {
    for (;;) {
        if (!in_payload_) {
            // Header: 2 bytes, then 0/2/8 length bytes, then the 4-byte mask.
            while (header_.size() < 2 && !in.empty()) {
                header_.push_back(in.front());
                in.remove_prefix(1);
            }
            if (header_.size() < 2)
                return status::need_more;
            auto b0 = static_cast<unsigned char>(header_[0]);
            auto b1 = static_cast<unsigned char>(header_[1]);
            if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0) // reserved bits, or an unmasked client frame
                return status::protocol_error;
            std::size_t len7 = b1 & 0x7f;
            std::size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
            while (header_.size() < need && !in.empty()) {
                header_.push_back(in.front());
                in.remove_prefix(1);
            }
            if (header_.size() < need)
                return status::need_more;
            std::uint64_t len = len7;
            std::size_t pos = 2;
            if (len7 >= 126) {
                len = 0;
                for (std::size_t i = 0; i < (len7 == 126 ? 2u : 8u); ++i)
                    len = (len << 8) | static_cast<unsigned char>(header_[pos++]);
            }
            for (int i = 0; i < 4; ++i)
                mask_[i] = static_cast<unsigned char>(header_[pos + i]);
            current_ = frame{static_cast<opcode>(b0 & 0x0f), (b0 & 0x80) != 0, {}};
            bool control = (b0 & 0x08) != 0;
            if (control && (len > 125 || !current_.fin))
                return status::protocol_error;
            auto op = b0 & 0x0f;
            if (op != 0 && op != 1 && op != 2 && op != 8 && op != 9 && op != 10)
                return status::protocol_error;
            remaining_ = len;
            offset_ = 0;
            in_payload_ = true;
            header_.clear();
        }
        bool control = static_cast<std::uint8_t>(current_.op) >= 8;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
        if (control)
            for (std::size_t i = 0; i < take; ++i)
                current_.payload.push_back(static_cast<char>(in[i] ^ mask_[(offset_ + i) % 4]));
        in.remove_prefix(take);
        remaining_ -= take;
        offset_ += take;
        if (remaining_ > 0)
            return status::need_more;
        in_payload_ = false;
        out = std::move(current_);
        return status::frame_ready;
    }
}

} // namespace ag::logs::ws
