#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace ag::proxy {

// Frames from the service to the client, followed only far enough to know where one ends: a service that
// goes away between frames gets the client a close frame 1011 (docs/api.md §10), one that goes mid-frame a
// closed connection.
class frame_edges {
public:
    void feed(const unsigned char* p, std::size_t n) {
        while (n > 0) {
            if (left_ > 0) {
                auto skip = static_cast<std::size_t>(std::min<std::uint64_t>(left_, n));
                left_ -= skip;
                p += skip;
                n -= skip;
                continue;
            }
            head_[have_++] = *p++;
            --n;
            if (have_ == 2) {
                if ((head_[0] & 0x0F) == 0x8)
                    close_seen_ = true;
                unsigned len7 = head_[1] & 0x7F;
                need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((head_[1] & 0x80) ? 4 : 0);
            }
            if (have_ >= 2 && have_ == need_) {
                unsigned len7 = head_[1] & 0x7F;
                std::uint64_t len = len7;
                if (len7 == 126)
                    len = (std::uint64_t{head_[2]} << 8) | head_[3];
                else if (len7 == 127) {
                    len = 0;
                    for (int i = 2; i < 10; ++i)
                        len = (len << 8) | head_[i];
                }
                left_ = len;
                have_ = 0;
                need_ = 2;
            }
        }
    }
    bool between_frames() const { return have_ == 0 && left_ == 0; }
    bool close_seen() const { return close_seen_; }

private:
    std::array<unsigned char, 14> head_{};
    std::size_t have_ = 0;
    std::size_t need_ = 2;
    std::uint64_t left_ = 0;
    bool close_seen_ = false;
};

} // namespace ag::proxy
