// The file routes' rules (handlers/file_rules.hpp): upload names, numbered names, Range headers, data URLs,
// If-None-Match. A name that passes never leaves its directory; a range never leaves the file.
#include "handlers/file_rules.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    if (ag::file_rules::valid_upload_name(in)) {
        if (in.find('/') != std::string_view::npos || in == "." || in == ".." ||
            in.find('\0') != std::string_view::npos)
            __builtin_trap();
        auto numbered = ag::file_rules::numbered_name(in, 1 + static_cast<int>(size % 1000));
        if (numbered.size() > 255 || numbered.find('/') != std::string::npos)
            __builtin_trap();
    }
    const std::uint64_t file_size = size * 37;
    auto r = ag::file_rules::parse_range(in, file_size);
    (void)r;
    (void)ag::file_rules::strip_data_url(in);
    (void)ag::file_rules::etag_matches(in, "\"abc\"");
    (void)ag::file_rules::content_type_for(in);
    return 0;
}
