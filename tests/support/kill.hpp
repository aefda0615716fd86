#pragma once
// kill -9 loops: a request from another thread, and SIGKILL into it.
#include "support/gateway.hpp"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace test {

// Sends a request from another thread and kills the daemon with SIGKILL `after` into it (a delay, not a
// wait for anything: where the kill lands is the point). Returns whether the answer came first.
inline bool kill_during(gateway& g, std::chrono::microseconds after, const std::function<void()>& request) {
    std::atomic<bool> answered{false};
    std::thread caller([&] {
        try {
            request();
            answered = true;
        } catch (...) { // the daemon died under it: expected
        }
    });
    std::this_thread::sleep_for(after);
    ::kill(g.pid(), SIGKILL);
    caller.join();
    g.stop();
    return answered;
}

// How long `op` takes, in microseconds: the kills are spread over that span.
inline long long microseconds_of(const std::function<void()>& op) {
    auto t0 = std::chrono::steady_clock::now();
    op();
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
        .count();
}

} // namespace test
