#pragma once
// Standard base64 (RFC 4648 §4): decoding skips ASCII whitespace and accepts input with or without padding.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ag::base64 {

// Upper bound of the decoded size of `in` (exact when `in` has no whitespace and no padding).
std::size_t decoded_size_bound(std::string_view in) noexcept;

// Decodes into `out` (replacing its contents). Returns false on any character outside the alphabet and
// whitespace, misplaced padding, or a dangling single character.
bool decode(std::string_view in, std::string& out);

std::string encode(std::string_view in);
// base64url without padding (RFC 4648 §5), as JOSE uses it (RFC 7515 §2).
std::string encode_url(std::string_view in);

} // namespace ag::base64
