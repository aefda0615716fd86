#pragma once
// Reads {"filename","contentBase64"} from an upload body. Uploads are megabytes of base64 in one JSON string,
// so a direct scan finds the string in place (no copy, no per-character DOM work); bodies with escapes or
// other value types go through nlohmann::json. Throws api_error 400 for malformed JSON.
#include <optional>
#include <string>
#include <string_view>

namespace ag {

struct upload_fields {
    std::optional<std::string> filename; // absent, or not a string: nullopt
    // contentBase64: a view into the body (fast path) or a copy (after unescaping). Valid while the body
    // lives.
    std::optional<std::string_view> content() const {
        if (owned_content)
            return std::string_view(*owned_content);
        return body_content;
    }
    std::optional<std::string_view> body_content;
    std::optional<std::string> owned_content;
};

upload_fields parse_upload_body(const std::string& body);
upload_fields parse_upload_body(std::string&&) = delete; // the result may view into the body

} // namespace ag
