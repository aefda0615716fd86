#pragma once
// Small helpers for tests that drive git and look at files: run a shell command, write a file with its
// directories.
#include "support/gateway.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace test {

// Writes `content` to `path`, creating the directories on the way.
inline void put(const std::string& path, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    write_file(path, content);
}

// Runs `cmd` with /bin/sh; returns stdout and stderr together, without trailing newlines.
inline std::string sh(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    ::pclose(p);
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

// An environment variable, or "" when it is not set (the engine suite's harness passes its engine this way).
inline std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

} // namespace test
