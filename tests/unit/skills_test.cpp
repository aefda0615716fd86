#include "handlers/skills.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>

using namespace ag::skills;

TEST_CASE("skill front matter") {
    auto fm = parse_front_matter(
        "---\nname: web-search\ndescription: 'Find things: fast'\nversion: 2\n---\n# Title\n");
    CHECK(*fm.name == "web-search");
    CHECK(*fm.description == "Find things: fast");
    auto folded =
        parse_front_matter("---\r\nname: x\r\ndescription: >\r\n  line one\r\n  line two\r\n---\r\n");
    CHECK(*folded.description == "line one line two");
    CHECK_FALSE(parse_front_matter("# no front matter\nname: x\n").name);
    CHECK_FALSE(parse_front_matter("").name);
}

namespace {
void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}
std::vector<std::string> names(const catalog::list& l) {
    std::vector<std::string> out;
    for (const auto& s : *l)
        out.push_back(s.name);
    return out;
}
} // namespace

TEST_CASE("skills catalog: read once, read again only after a change under skills/") {
    test::temp_dir ws;
    catalog c(ws.path);
    CHECK_FALSE(c.cached()); // nothing read yet
    CHECK(c.rescan()->empty());
    REQUIRE(c.cached());

    // The folder appears, then a skill in it.
    ::mkdir((ws / "skills").c_str(), 0755);
    CHECK_FALSE(c.cached());
    CHECK(c.rescan()->empty());
    ::mkdir((ws / "skills/search").c_str(), 0755);
    write(ws / "skills/search/SKILL.md", "---\nname: web-search\n---\n");
    CHECK_FALSE(c.cached());
    CHECK(names(c.rescan()) == std::vector<std::string>{"web-search"});
    REQUIRE(c.cached());
    CHECK(names(c.cached()) == std::vector<std::string>{"web-search"});

    // What is not about skills leaves the list cached.
    write(ws / "notes.md", "unrelated\n");
    ::mkdir((ws / "runs").c_str(), 0755);
    CHECK(c.cached());

    // An edit in place, a replacement by rename, a removal.
    write(ws / "skills/search/SKILL.md", "---\nname: better-search\n---\n");
    CHECK_FALSE(c.cached());
    CHECK(names(c.rescan()) == std::vector<std::string>{"better-search"});
    write(ws / "skills/search/SKILL.md.tmp", "---\nname: renamed-in\n---\n");
    ::rename((ws / "skills/search/SKILL.md.tmp").c_str(), (ws / "skills/search/SKILL.md").c_str());
    CHECK_FALSE(c.cached());
    CHECK(names(c.rescan()) == std::vector<std::string>{"renamed-in"});
    ::rename((ws / "skills").c_str(), (ws / "old-skills").c_str());
    CHECK_FALSE(c.cached());
    CHECK(c.rescan()->empty());
    CHECK(c.cached());
}
