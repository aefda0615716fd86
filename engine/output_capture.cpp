#include "engine/output_capture.hpp"

#include "util/text.hpp"

#include <fmt/core.h>

namespace ag::engine {

output_capture::output_capture(std::size_t max_bytes)
    : head_max_(max_bytes / 2)
    , tail_max_(max_bytes - max_bytes / 2) {}

void output_capture::append(std::string_view data) {
    total_ += data.size();
    if (head_.size() < head_max_) {
        auto n = std::min(head_max_ - head_.size(), data.size());
        head_.append(data.substr(0, n));
        data.remove_prefix(n);
    }
    if (data.empty())
        return;
    if (data.size() >= tail_max_) {
        tail_.assign(data.substr(data.size() - tail_max_));
        return;
    }
    tail_.append(data);
    // Trim only when twice the size, so each byte is moved O(1) times on average.
    if (tail_.size() >= 2 * tail_max_)
        tail_.erase(0, tail_.size() - tail_max_);
}

std::string output_capture::text() const {
    std::string_view tail = tail_;
    if (tail.size() > tail_max_)
        tail.remove_prefix(tail.size() - tail_max_);
    if (!truncated())
        return text::to_valid_utf8(head_ + std::string(tail));

    // Cut on character boundaries so the join does not manufacture replacement characters.
    std::string_view head = head_;
    auto is_cont = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; };
    for (std::size_t back = 1; back <= 4 && back <= head.size(); ++back) {
        auto c = static_cast<unsigned char>(head[head.size() - back]);
        if ((c & 0xC0) == 0x80)
            continue;
        std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (need > back)
            head.remove_suffix(back);
        break;
    }
    for (int i = 0; i < 3 && !tail.empty() && is_cont(tail.front()); ++i)
        tail.remove_prefix(1);
    std::uint64_t omitted = total_ - head.size() - tail.size();
    return text::to_valid_utf8(head) + fmt::format("\n\u2026[{} bytes omitted]\u2026\n", omitted) +
           text::to_valid_utf8(tail);
}

} // namespace ag::engine
