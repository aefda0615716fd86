#pragma once
// The NDJSON lines of a command's output (docs/api.md §18), shared by a background process's output and a
// streaming console exec: each line one JSON object and a newline.
#include <cstdint>
#include <string>
#include <string_view>

namespace ag::output_lines {

constexpr const char* content_type = "application/x-ndjson";

// {"offset","stream":"stdout|stderr","data"}: `data` as UTF-8, invalid bytes as U+FFFD.
std::string chunk(std::uint64_t offset, int stream, std::string_view data);
// {"type":"gap","from","to"}: bytes from `from` to `to` are no longer kept.
std::string gap(std::uint64_t from, std::uint64_t to);

// The part of `data` that may go out now when more of its stream may follow: all but an incomplete UTF-8
// sequence at its end (sent with the bytes that complete it, so a character cut by a read is not replaced).
std::string_view complete_prefix(std::string_view data) noexcept;

} // namespace ag::output_lines
