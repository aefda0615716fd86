#include "handlers/output_lines.hpp"

#include "util/text.hpp"

#include <nlohmann/json.hpp>

namespace ag::output_lines {

std::string chunk(std::uint64_t offset, int stream, std::string_view data) {
    nlohmann::json j = {{"offset", offset},
                        {"stream", stream == 0 ? "stdout" : "stderr"},
                        {"data", text::to_valid_utf8(data)}};
    return j.dump() + "\n";
}

std::string gap(std::uint64_t from, std::uint64_t to) {
    nlohmann::json j = {{"type", "gap"}, {"from", from}, {"to", to}};
    return j.dump() + "\n";
}

std::string_view complete_prefix(std::string_view data) noexcept {
    // Back over at most 3 continuation bytes to the sequence's first byte; hold it back when the sequence it
    // starts is longer than what is there. Anything else (ASCII, invalid bytes) goes out as it is.
    std::size_t n = data.size();
    for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
        auto c = static_cast<unsigned char>(data[n - back]);
        if ((c & 0xC0) == 0x80)
            continue;
        std::size_t need = c >= 0xF8 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? data.substr(0, n - back) : data;
    }
    return data;
}

} // namespace ag::output_lines
