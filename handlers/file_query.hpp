#pragma once
// The query parameters the file routes share (docs/api.md §9, §19): the path and the true/false switches.
#include "gateway/request.hpp"

#include <string>
#include <string_view>

namespace ag::file_query {

// The parameter `key` normalised against `root` (files::normalise): 400 "Missing path" when it is absent or
// empty, 400 "Invalid path" for a NUL in it.
std::string path(const request& req, std::string_view root, std::string_view key = "path");

// A switch: absent, empty, "false" or "0" is false; "true" or "1" true; anything else 400.
bool flag(const request& req, std::string_view name);

} // namespace ag::file_query
