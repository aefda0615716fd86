#pragma once
// A fresh directory under /tmp for one test, removed with everything in it at the end. Shared by all suites.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace test {

struct temp_dir {
    temp_dir() {
        char tmpl[] = "/tmp/agw-test-XXXXXX";
        if (!::mkdtemp(tmpl))
            throw std::runtime_error("mkdtemp");
        path = tmpl;
        ::chmod(path.c_str(), 0755);
    }
    ~temp_dir() { [[maybe_unused]] int rc = std::system(("rm -rf '" + path + "'").c_str()); }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    std::string path;
    std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

} // namespace test
