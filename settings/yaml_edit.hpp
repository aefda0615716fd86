#pragma once
// Edits of one member of a YAML config that keep every other line as it was (comments, anchors, order,
// layout), for files laid out as most are: block mappings down to the member. Anything else (a flow mapping
// on the way, document markers) is left to the caller, which writes the file anew.
#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::settings {

// `text` with the member at `path` (keys from the top mapping down) set to `value`, or removed when `value`
// is empty: only that member's lines change (a new one goes after the last member of its mapping, with the
// mappings above it made when missing). nullopt when the text is not laid out so; the caller must still check
// that the result reads as intended.
std::optional<std::string> yaml_edit(std::string_view text, const std::vector<std::string>& path,
                                     const std::optional<nlohmann::json>& value);

} // namespace ag::settings
