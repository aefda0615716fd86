#pragma once
// Small text helpers shared by the gateway and handlers: UTF-8 repair, form decoding, query strings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ag::text {

// Replaces every invalid UTF-8 sequence with U+FFFD (one per maximal invalid subpart, as WHATWG does).
std::string to_valid_utf8(std::string_view in);

// The longest prefix of at most `max_bytes` that does not end inside a UTF-8 sequence (cuts of valid text
// stay valid).
std::string_view utf8_prefix(std::string_view in, std::size_t max_bytes) noexcept;

// %XX becomes a byte; with `plus_is_space` (form encoding) '+' becomes a space. Malformed escapes stay as
// they are.
std::string percent_decode(std::string_view in, bool plus_is_space);
// application/x-www-form-urlencoded decoding (query strings).
inline std::string form_decode(std::string_view in) {
    return percent_decode(in, true);
}

// The value of one hex digit (either case); -1 for anything else.
int hex_value(char c) noexcept;

using query_params = std::vector<std::pair<std::string, std::string>>;

// Splits "a=1&b=x+y" into decoded pairs; keys without '=' get an empty value.
query_params parse_query(std::string_view query);

// The first value of `key`, if present.
std::optional<std::string_view> find_param(const query_params& params, std::string_view key);

// The target for logs: the value of every `token` parameter (any case, `token[]` too) and every value that
// holds `secret` (the gateway token, under whatever key) replaced by "REDACTED".
std::string redact_target(std::string_view target, std::string_view secret = {});

bool iequals(std::string_view a, std::string_view b) noexcept;

// Decimal digits only (no sign, no spaces), within 64 bits.
std::optional<std::uint64_t> parse_u64(std::string_view s) noexcept;

std::string_view trim(std::string_view s) noexcept;

} // namespace ag::text
