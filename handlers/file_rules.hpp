#pragma once
// Pure rules of the file endpoints (docs/api.md §9), unit-tested without a server.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ag::file_rules {

// Content-Type by extension: text types carry charset=utf-8; unknown is application/octet-stream.
std::string content_type_for(std::string_view path);

struct byte_range {
    std::uint64_t first = 0;
    std::uint64_t length = 0;
};
enum class range_status { none, ok, unsatisfiable, multiple };
struct range_result {
    range_status status = range_status::none;
    byte_range range;
};
// Parses a Range header against a file of `size` bytes. Malformed headers count as none (RFC 9110 §14.2).
range_result parse_range(std::string_view header, std::uint64_t size);

// A weak validator from the file's identity and version.
std::string etag_for(std::uint64_t size, std::int64_t mtime_ns, std::uint64_t inode);
// If-None-Match: "*" or a list containing `etag` (weak comparison).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

inline constexpr std::size_t max_name_bytes = 255; // NAME_MAX

// Upload filename rules: 1-255 bytes, not "." or "..", no '/', '\\' or NUL.
bool valid_upload_name(std::string_view name);
// The name for attempt i: "report.pdf", "report-1.pdf", "report-2.pdf", ...; a leading dot is not an
// extension. Never over 255 bytes: a long stem is shortened before the extension.
std::string numbered_name(std::string_view name, int attempt);

// Strips a leading "data:<type>;base64," from upload content; nullopt for a data: URL that is not base64.
std::optional<std::string_view> strip_data_url(std::string_view content);

} // namespace ag::file_rules
