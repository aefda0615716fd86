#pragma once
// Follows the engine's own log files (--engine-log GLOB, repeatable): new lines become entries, decoded as
// docs/api.md §7 says. Files present at start are followed from their end (what they held before is old
// news); files that appear later (a daily rollover, a rotation) from their start. A file replaced under its
// name is read to its end before the new one is opened; a truncated file is read again from the start. tick()
// does blocking file I/O: call it from the blocking pool, one call at a time.
#include "logs/decode.hpp"
#include "logs/line_splitter.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ag::logs {

class hub;

class file_follower {
public:
    file_follower(hub& h, std::vector<std::string> globs, std::string source = "engine");
    ~file_follower();
    file_follower(const file_follower&) = delete;
    file_follower& operator=(const file_follower&) = delete;

    void tick();

private:
    struct followed {
        int fd = -1;
        unsigned long long dev = 0, ino = 0;
        long long offset = 0;
        line_splitter lines;
        std::chrono::steady_clock::time_point partial_since{};
    };
    void read_new(followed& f);
    void emit(std::string_view line); // decoded into pending_
    void publish();                   // pending_ as one batch

    hub& hub_;
    std::vector<std::string> globs_;
    std::string source_;
    std::map<std::string, followed> files_;
    bool first_ = true;
    std::vector<decoded_line> pending_;
};

} // namespace ag::logs
