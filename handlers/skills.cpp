#include "handlers/skills.hpp"

#include "util/text.hpp"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ag::skills {
namespace {

std::string unquote(std::string_view v) {
    v = text::trim(v);
    if (v.size() >= 2 && ((v.front() == '"' && v.back() == '"') || (v.front() == '\'' && v.back() == '\'')))
        return std::string(v.substr(1, v.size() - 2));
    return std::string(v);
}

} // namespace

front_matter parse_front_matter(std::string_view text) {
    front_matter fm;
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        lines.push_back(line);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    if (lines.empty() || text::trim(lines[0]) != "---")
        return fm;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        auto line = lines[i];
        if (text::trim(line) == "---")
            break;
        if (line.empty() || line[0] == ' ' || line[0] == '#')
            continue;
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        auto key = text::trim(line.substr(0, colon));
        auto value = text::trim(line.substr(colon + 1));
        std::string v;
        if (value == ">" || value == "|" || value == ">-" || value == "|-") {
            // A block scalar: the indented lines that follow.
            std::string sep = value[0] == '>' ? " " : "\n";
            while (i + 1 < lines.size() &&
                   (lines[i + 1].starts_with(" ") || lines[i + 1].starts_with("\t"))) {
                if (!v.empty())
                    v += sep;
                v += text::trim(lines[++i]);
            }
        } else {
            v = unquote(value);
        }
        if (key == "name")
            fm.name = v;
        else if (key == "description")
            fm.description = v;
    }
    return fm;
}

std::vector<skill> scan(const std::string& workspace) {
    std::vector<skill> out;
    std::string dir = workspace + "/skills";
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return out;
    while (auto* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.empty() || name[0] == '.')
            continue;
        std::ifstream in(dir + "/" + name + "/SKILL.md");
        if (!in)
            continue;
        // Front matter is at the top; 64 KiB is plenty and bounds the work.
        std::string head(64 * 1024, '\0');
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        head.resize(static_cast<std::size_t>(in.gcount()));
        auto fm = parse_front_matter(head);
        out.push_back({name, fm.name.value_or(name), fm.description});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const skill& a, const skill& b) { return a.id < b.id; });
    return out;
}

} // namespace ag::skills
