#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

using namespace ag::fs_util;

namespace {
std::set<std::string> names(const std::string& dir) {
    std::set<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    while (auto* e = ::readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
            out.insert(e->d_name);
    ::closedir(d);
    return out;
}
std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
} // namespace

TEST_CASE("write_file_atomic replaces whole files with the requested mode") {
    test::temp_dir tmp;
    const std::string& dir = tmp.path;
    write_file_atomic(dir + "/f", "one", 0600);
    write_file_atomic(dir + "/f", "two", 0600);
    CHECK(slurp(dir + "/f") == "two");
    struct stat st {};
    ::stat((dir + "/f").c_str(), &st);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(names(dir) == std::set<std::string>{"f"});
    CHECK_THROWS(write_file_atomic(dir + "/missing/f", "x"));
    CHECK(names(dir) == std::set<std::string>{"f"});
}

TEST_CASE("write_new_file never replaces and leaves nothing behind") {
    test::temp_dir tmp;
    const std::string& dir = tmp.path;
    auto name_for = [](int i) { return i == 0 ? std::string("n.txt") : "n-" + std::to_string(i) + ".txt"; };
    CHECK(write_new_file(dir, "a", 0644, name_for) == "n.txt");
    CHECK(write_new_file(dir, "b", 0644, name_for) == "n-1.txt");
    CHECK(slurp(dir + "/n.txt") == "a");
    CHECK(slurp(dir + "/n-1.txt") == "b");
    CHECK_THROWS(write_new_file(
        dir, "c", 0644, [](int) { return std::string("n.txt"); }, 3));
    CHECK(names(dir) == std::set<std::string>{"n-1.txt", "n.txt"});
    make_directories(dir + "/x/y/z");
    CHECK(names(dir + "/x/y") == std::set<std::string>{"z"});
}
