#pragma once
// Cuts a byte stream into lines. A line that grows past the longest message is emitted in pieces, so a
// writer that never prints a newline cannot make us buffer without bound.
#include "logs/journal.hpp"

#include <string>
#include <string_view>

namespace ag::logs {

class line_splitter {
public:
    // Calls emit(std::string_view line) for each complete line, without its newline.
    template <class Emit> void feed(std::string_view data, Emit&& emit) {
        while (!data.empty()) {
            auto nl = data.find('\n');
            if (nl == std::string_view::npos) {
                partial_.append(data);
                while (partial_.size() >= max_message_bytes) {
                    emit(std::string_view(partial_).substr(0, max_message_bytes));
                    partial_.erase(0, max_message_bytes);
                }
                return;
            }
            if (partial_.empty()) {
                emit(data.substr(0, nl));
            } else {
                partial_.append(data.substr(0, nl));
                emit(std::string_view(partial_));
                partial_.clear();
            }
            data.remove_prefix(nl + 1);
        }
    }
    bool has_partial() const { return !partial_.empty(); }
    // Emits what is left of an unfinished line (idle for a second, or the stream ended).
    template <class Emit> void flush(Emit&& emit) {
        if (!partial_.empty()) {
            emit(std::string_view(partial_));
            partial_.clear();
        }
    }

private:
    std::string partial_;
};

} // namespace ag::logs
