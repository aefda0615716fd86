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

bool valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

bool parser::utf8_step(unsigned char b) noexcept {
    if (utf8_need_ == 0) {
        if (b < 0x80)
            return true;
        utf8_lo_ = 0x80;
        utf8_hi_ = 0xBF;
        if (b >= 0xC2 && b <= 0xDF)
            utf8_need_ = 1;
        else if (b == 0xE0)
            utf8_need_ = 2, utf8_lo_ = 0xA0; // no overlong three-byte forms
        else if (b == 0xED)
            utf8_need_ = 2, utf8_hi_ = 0x9F; // no surrogates
        else if (b >= 0xE1 && b <= 0xEF)
            utf8_need_ = 2;
        else if (b == 0xF0)
            utf8_need_ = 3, utf8_lo_ = 0x90; // no overlong four-byte forms
        else if (b >= 0xF1 && b <= 0xF3)
            utf8_need_ = 3;
        else if (b == 0xF4)
            utf8_need_ = 3, utf8_hi_ = 0x8F; // nothing past U+10FFFF
        else
            return false;
        return true;
    }
    if (b < utf8_lo_ || b > utf8_hi_)
        return false;
    --utf8_need_;
    utf8_lo_ = 0x80;
    utf8_hi_ = 0xBF;
    return true;
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
            if (!control) {
                // A continuation continues a message; a new text or binary frame may not interrupt one.
                if ((op == 0) != in_message_)
                    return status::protocol_error;
                if (op != 0)
                    text_message_ = op == 1;
                in_message_ = !current_.fin;
            }
            if (current_.op == opcode::close && len == 1)
                return status::protocol_error; // a close payload is empty or starts with a 2-byte code
            remaining_ = len;
            offset_ = 0;
            in_payload_ = true;
            header_.clear();
        }
        const bool control = static_cast<std::uint8_t>(current_.op) >= 8;
        const bool text = !control && text_message_;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
        for (std::size_t i = 0; i < take; ++i) {
            char c = static_cast<char>(in[i] ^ mask_[(offset_ + i) % 4]);
            if (control)
                current_.payload.push_back(c);
            else if (text && !utf8_step(static_cast<unsigned char>(c)))
                return status::invalid_utf8;
        }
        in.remove_prefix(take);
        remaining_ -= take;
        offset_ += take;
        if (remaining_ > 0)
            return status::need_more;
        in_payload_ = false;
        if (text && current_.fin && utf8_need_ != 0)
            return status::invalid_utf8; // the message ends inside a character
        if (current_.op == opcode::close && current_.payload.size() >= 2) {
            auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(current_.payload[0]) << 8) |
                                                   static_cast<unsigned char>(current_.payload[1]));
            if (!valid_close_code(code))
                return status::protocol_error;
            parser reason;
            for (std::size_t i = 2; i < current_.payload.size(); ++i)
                if (!reason.utf8_step(static_cast<unsigned char>(current_.payload[i])))
                    return status::invalid_utf8;
            if (reason.utf8_need_ != 0)
                return status::invalid_utf8;
        }
        out = std::move(current_);
        return status::frame_ready;
    }
}

} // namespace ag::logs::ws
