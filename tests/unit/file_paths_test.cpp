// files/paths and files/archive rules (docs/api.md §19), value in, value out.
#include "files/archive.hpp"
#include "files/paths.hpp"
#include "gateway/errors.hpp"

#include <doctest/doctest.h>

using namespace ag;

TEST_CASE("file paths: normalised as text against ROOT") {
    CHECK(files::normalise("a/b.txt", "/r") == "/r/a/b.txt");
    CHECK(files::normalise("/abs//x/./y/", "/r") == "/abs/x/y");
    CHECK(files::normalise("a/../../b", "/r/s") == "/r/b");
    CHECK(files::normalise("../../../..", "/r") == "/");
    CHECK(files::normalise(".", "/r") == "/r");
    CHECK_THROWS_AS(files::normalise("", "/r"), api_error);
    CHECK_THROWS_AS(files::normalise(std::string("a\0b", 3), "/r"), api_error);
    CHECK(files::split_parent("/a/b/c") == std::pair<std::string, std::string>{"/a/b", "c"});
    CHECK(files::split_parent("/x") == std::pair<std::string, std::string>{"/", "x"});
    CHECK(files::is_within("/a/b", "/a"));
    CHECK(files::is_within("/a", "/a"));
    CHECK(!files::is_within("/ab", "/a"));
    CHECK(files::is_within("/anything", "/"));
}

TEST_CASE("file paths: the guard keeps STATE, .git, own files and the workspace itself") {
    files::guard g("/r", "/r/workspace", "/r/.agent-gateway", {"/etc/agw/token"});
    auto status = [](auto&& f) {
        try {
            f();
            return 200u;
        } catch (const api_error& e) {
            return status_of(e.kind);
        }
    };
    CHECK(status([&] { g.check_write("/r/workspace/a.txt"); }) == 200);
    CHECK(status([&] { g.check_write("/r/workspace"); }) == 403);
    CHECK(status([&] { g.check_write("/r/.agent-gateway/x"); }) == 403);
    CHECK(status([&] { g.check_write("/r/workspace/.git/HEAD"); }) == 403);
    CHECK(status([&] { g.check_write("/r/workspace/.gitignore"); }) == 200);
    CHECK(status([&] { g.check_write("/etc/agw/token"); }) == 403);
    CHECK(status([&] { g.check_remove("/r/workspace/sub"); }) == 200);
    CHECK(status([&] { g.check_remove("/r/workspace"); }) == 403);
    CHECK(status([&] { g.check_remove("/r"); }) == 403);
    CHECK(status([&] { g.check_remove("/"); }) == 403);
    CHECK(status([&] { g.check_remove("/etc/agw"); }) == 403);
    CHECK(status([&] { g.check_remove("/r/other"); }) == 200);
}

TEST_CASE("file archives: formats and exclude globs") {
    CHECK(files::parse_archive_format("tar.gz") == files::archive_format::tar_gz);
    CHECK(files::parse_archive_format("tgz") == files::archive_format::tar_gz);
    CHECK(files::parse_archive_format("zip") == files::archive_format::zip);
    CHECK(!files::parse_archive_format("rar"));
    std::vector<std::string> ex{"*.log", "node_modules", "build/*"};
    CHECK(files::excluded("a.log", ex));
    CHECK(files::excluded("deep/x/a.log", ex));
    CHECK(files::excluded("web/node_modules", ex));
    CHECK(files::excluded("build/out.o", ex));
    CHECK(!files::excluded("src/build.c", ex));
    CHECK(!files::excluded("a.log.txt", ex));
}
