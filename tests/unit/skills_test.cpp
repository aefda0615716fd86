#include "handlers/skills.hpp"

#include <doctest/doctest.h>

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
