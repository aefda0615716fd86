#pragma once
// Helpers for tests that run the daemon with the test engine (support/test_engine.sh).
#include "support/gateway.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <cstdio>

namespace test {

// Polls `pred` every 20 ms until it holds or `limit` passes.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

// A file the test engine acts on; written aside and renamed so it never reads half of it.
inline void tell_engine(const std::string& ctl, const std::string& name, const std::string& content) {
    write_file(ctl + "/." + name + ".tmp", content);
    std::rename((ctl + "/." + name + ".tmp").c_str(), (ctl + "/" + name).c_str());
}

inline std::string engine_command(const std::string& ctl) {
    return std::string("exec ") + TEST_ENGINE + " " + ctl;
}

// The last `lines` entries as GET …/logs renders them.
inline std::string logs_text(const gateway& g, int lines = 1000) {
    auto r = g.get(g.api("/logs?lines=" + std::to_string(lines)));
    return r.status == 200 ? r.json()["logs"].get<std::string>() : std::string();
}

inline bool logs_contain(const gateway& g, const std::string& needle) {
    return logs_text(g).find(needle) != std::string::npos;
}

} // namespace test
