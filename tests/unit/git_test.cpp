// pkt-line framing, request-body inflating, the manifest check a push must pass and the checks its objects
// must pass (docs/api.md §13).
#include "engine/manifest.hpp"
#include "git/libgit2.hpp"
#include "git/object_check.hpp"
#include "git/pkt_line.hpp"
#include "util/gunzip.hpp"

#include "support/gzip.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace ag;

namespace {} // namespace

TEST_CASE("pkt-lines: lengths in lowercase hex include the header; flush is 0000") {
    std::string out;
    git::append_pkt(out, "# service=git-upload-pack\n");
    CHECK(out == "001e# service=git-upload-pack\n");
    out.clear();
    git::append_pkt(out, std::string(65516, 'x'));
    CHECK(out.substr(0, 4) == "fff0");

    git::pkt_reader in(std::string_view("0009done\n0000000bhave x\n"));
    auto p = in.next();
    CHECK(p.kind == git::pkt_reader::pkt::data);
    CHECK(p.payload == "done"); // the LF is not part of the line
    CHECK(in.next().kind == git::pkt_reader::pkt::flush);
    CHECK(in.next().payload == "have x");
    CHECK(in.next().kind == git::pkt_reader::pkt::end);

    git::pkt_reader truncated(std::string_view("0010short"));
    CHECK_THROWS_AS(truncated.next(), git::error);
    git::pkt_reader bad(std::string_view("00zzxxxx"));
    CHECK_THROWS_AS(bad.next(), git::error);
    git::pkt_reader three(std::string_view("0003"));
    CHECK_THROWS_AS(three.next(), git::error);
}

TEST_CASE("side-band: data is split into pkts of at most 65515 bytes after the band byte") {
    std::string out;
    git::append_band(out, 1, std::string(65515 + 10, 'p'));
    REQUIRE(out.size() == 4 + 1 + 65515 + 4 + 1 + 10);
    CHECK(out.substr(0, 5) == std::string("fff0\1"));
    CHECK(out.substr(4 + 1 + 65515, 5) == std::string("000f\1"));
    out.clear();
    git::append_band(out, 2, "Counting\r");
    CHECK(out == std::string("000e\2Counting\r"));
}

TEST_CASE("gunzip: any split of the input, a cap on the output, corrupt input refused") {
    std::string plain;
    for (int i = 0; i < 5000; ++i)
        plain += "have 0123456789abcdef0123456789abcdef01234567\n";
    std::string packed = test::gzip(plain);
    for (std::size_t step : {std::size_t(1), std::size_t(7), std::size_t(4096), packed.size()}) {
        gunzip g(1 << 20);
        std::string out;
        for (std::size_t i = 0; i < packed.size(); i += step)
            g.feed(std::string_view(packed).substr(i, step), out);
        CHECK(out == plain);
        CHECK(g.finished());
    }
    gunzip small(1000);
    std::string out;
    CHECK_THROWS_AS(small.feed(packed, out), std::length_error);
    gunzip corrupt(1 << 20);
    std::string broken = packed;
    broken[broken.size() / 2] ^= 0x55;
    broken[broken.size() / 2 + 1] ^= 0x55;
    bool refused = false;
    try {
        corrupt.feed(broken, out);
    } catch (const std::runtime_error&) {
        refused = true;
    }
    CHECK((refused || !corrupt.finished())); // the caller answers 400 either way
}

TEST_CASE("a manifest a push may check out: JSON object with version 1") {
    CHECK(engine::manifest_problem(R"({"version":1,"scripts":{"build":"make"}})").empty());
    CHECK(engine::manifest_problem("{\"version\": 1").starts_with("not valid JSON (line 1"));
    CHECK(engine::manifest_problem("[1]") == "not a JSON object");
    CHECK(engine::manifest_problem("{}") == "\"version\" is missing (must be 1)");
    CHECK(engine::manifest_problem(R"({"version":"1"})") == "\"version\" must be 1, not \"1\"");
    CHECK(engine::manifest_problem(R"({"version":2})") == "\"version\" must be 1, not 2");
}

TEST_CASE("object ids: exactly 40 lowercase hex digits") {
    git_oid id;
    CHECK(git::parse_oid("0123456789abcdef0123456789abcdef01234567", id));
    CHECK(git::to_hex(id) == "0123456789abcdef0123456789abcdef01234567");
    CHECK_FALSE(git::parse_oid("0123456789ABCDEF0123456789abcdef01234567", id));
    CHECK_FALSE(git::parse_oid("0123456789abcdef0123456789abcdef0123456", id));
    CHECK_FALSE(git::parse_oid("0123456789abcdef0123456789abcdef0123456g", id));
}

namespace {

// A raw tree object from (mode, name) pairs, every entry pointing at the same id.
std::string raw_tree(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string out;
    for (const auto& [mode, name] : entries)
        out += mode + " " + name + '\0' + std::string(20, '\x11');
    return out;
}

std::string problem_of(const std::vector<std::pair<std::string, std::string>>& entries) {
    return git::check_tree(raw_tree(entries)).problem;
}

} // namespace

TEST_CASE("received trees: git's fsck rules and names no work tree may hold") {
    CHECK(problem_of({{"100644", "a"}, {"40000", "b"}, {"100755", "c"}, {"120000", "d"}}).empty());
    // Tree order puts "a.txt" before the directory "a" (compared as "a/").
    CHECK(problem_of({{"100644", "a.txt"}, {"40000", "a"}}).empty());
    CHECK(problem_of({{"100644", "dup"}, {"100644", "dup"}}).starts_with("duplicateEntries"));
    CHECK(problem_of({{"100644", "a"}, {"100644", "a-b"}, {"40000", "a"}}).starts_with("duplicateEntries"));
    CHECK(problem_of({{"100644", "b"}, {"100644", "a"}}).starts_with("treeNotSorted"));
    for (const char* name : {"..\\y", ".\\y", "x\\..\\y"})
        CHECK(problem_of({{"100644", name}}).starts_with("hasBackslash"));
    CHECK(problem_of({{"100644", ".."}}).starts_with("hasDotdot"));
    CHECK(problem_of({{"100644", "."}}).starts_with("hasDot:"));
    CHECK(problem_of({{"100644", ""}}).starts_with("emptyName"));
    for (const char* name :
         {".git", ".GIT", ".git.", ".git ", "git~1", "GIT~1", ".g\xe2\x80\x8cit", ".git::$INDEX"})
        CHECK_MESSAGE(problem_of({{"40000", name}}).starts_with("hasDotgit"), name);
    CHECK(problem_of({{"40000", ".github"}, {"100644", ".gitignore"}}).empty());
    CHECK(problem_of({{"100600", "a"}}).starts_with("badFilemode"));
    CHECK(problem_of({{"040000", "a"}}).starts_with("zeroPaddedFilemode"));
    CHECK(problem_of({{"120000", ".gitmodules"}}).starts_with("gitmodulesSymlink"));
    CHECK(git::check_tree(raw_tree({{"100644", ".gitmodules"}})).gitmodules_blobs.size() == 1);
    CHECK(git::check_tree(raw_tree({{"100644", ".GITMODULES"}})).gitmodules_blobs.size() == 1);
    CHECK(git::check_tree("100644 a").problem.starts_with("badTree"));
}

TEST_CASE(".gitmodules: option-like urls and paths, update commands and escaping names are refused") {
    CHECK(git::check_gitmodules("[submodule \"lib\"]\n\tpath = lib\n\turl = https://example.com/lib.git\n")
              .empty());
    CHECK(git::check_gitmodules("[submodule \"x\"]\n\turl = --upload-pack=touch /tmp/x\n")
              .starts_with("gitmodulesUrl"));
    CHECK(git::check_gitmodules("[submodule \"x\"]\n\turl = \"-u\"\n").starts_with("gitmodulesUrl"));
    CHECK(git::check_gitmodules("[submodule \"x\"]\n\tpath = -x\n").starts_with("gitmodulesPath"));
    CHECK(git::check_gitmodules("[submodule \"x\"]\n\tupdate = !rm -rf ~\n").starts_with("gitmodulesUpdate"));
    CHECK(git::check_gitmodules("[submodule \"../../hooks\"]\n\tpath = a\n").starts_with("gitmodulesName"));
    CHECK(git::check_gitmodules("[submodule \"a..b\"]\n\tpath = a\n").empty());
    // Outside a submodule section, the same keys mean nothing.
    CHECK(git::check_gitmodules("[other]\n\turl = -x\n").empty());
}
