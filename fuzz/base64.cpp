// Upload bodies' base64 (util/base64.hpp): decoding any text fits the bound it promises, and what is
// encoded decodes back to itself.
#include "util/base64.hpp"

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string out;
    if (ag::base64::decode(in, out) && out.size() > ag::base64::decoded_size_bound(in))
        __builtin_trap();
    std::string back;
    if (!ag::base64::decode(ag::base64::encode(in), back) || back != in)
        __builtin_trap();
    return 0;
}
