// Engine config files (settings/config_file.hpp) as YAML, JSON and JSON5: parsed or refused with
// invalid_config, with the limits of docs/api.md §15 (depth, alias expansion) holding on any input.
#include "settings/config_file.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const auto f = static_cast<ag::settings::format>(data[0] % 3);
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        auto config = ag::settings::parse(in, f);
        (void)ag::settings::render(config, f);
    } catch (const std::exception&) {
    }
    return 0;
}
