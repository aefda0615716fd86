#pragma once
// Keeps the first and last halves of a stream that may be far larger than what we return. Appending never
// blocks and memory stays O(max_bytes), so a child can write gigabytes while we keep reading its pipe.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ag::engine {

class output_capture {
public:
    explicit output_capture(std::size_t max_bytes);

    void append(std::string_view data);
    bool truncated() const noexcept { return total_ > head_max_ + tail_max_; }
    std::uint64_t total_bytes() const noexcept { return total_; }

    // Valid UTF-8: the kept bytes with invalid sequences replaced by U+FFFD; when truncated, the first half
    // and the last half joined by "\n…[N bytes omitted]…\n", both cut on character boundaries.
    std::string text() const;

private:
    std::size_t head_max_;
    std::size_t tail_max_;
    std::uint64_t total_ = 0;
    std::string head_;
    std::string tail_; // holds up to 2 * tail_max_ bytes; the last tail_max_ of them are the tail
};

} // namespace ag::engine
