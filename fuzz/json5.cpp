// The JSON5 reader (util/json5.hpp) on any text: a value or an exception, never a crash or a hang; what it
// reads survives a dump and a plain JSON parse.
#include "util/json5.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    nlohmann::json v;
    try {
        v = ag::json5::parse(in);
    } catch (const std::exception&) {
        return 0;
    }
    std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)nlohmann::json::parse(text);
    return 0;
}
