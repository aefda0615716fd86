#pragma once
// Skills found in WORKSPACE/skills/*/SKILL.md (YAML front matter: name, description). Blocking: call on the
// pool.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::skills {

struct skill {
    std::string id;   // the folder name
    std::string name; // front matter `name`, else the folder name
    std::optional<std::string> description;
};

struct front_matter {
    std::optional<std::string> name;
    std::optional<std::string> description;
};

// Reads `name` and `description` from a leading "---" block; quoted values and folded (>, |) blocks included.
front_matter parse_front_matter(std::string_view text);

std::vector<skill> scan(const std::string& workspace);

} // namespace ag::skills
