#pragma once
// Reads {"filename","contentBase64"} from an upload body. Uploads are megabytes of base64 in one JSON string, so a
// direct scan finds the string in place (no copy, no per-character DOM work); bodies with escapes or other value
// types go through nlohmann::json. Throws api_error 400 for malformed JSON.
#include <optional>
#include <string>
#include <string_view>

namespace ag {

struct upload_fields {
    std::optional<std::string> filename;     // absent, or not a string: nullopt
    std::optional<std::string_view> content; // views into the body or into `storage`
    std::string storage;
};

upload_fields parse_upload_body(const std::string& body);

} // namespace ag
