#pragma once
// One connection's deadline and cancel hook, as its worker's sweep and shutdown see it. Also what a front
// door (gateway/front_door.hpp) uses to keep a proxied connection's deadline.
#include <chrono>
#include <functional>

namespace ag {

// A live connection as the worker sees it, for shutdown: idle ones are cancelled at once, busy ones finish
// their response first.
// Deadlines are checked by the worker's once-a-second sweep rather than a timer per socket operation:
// re-arming per-operation timers cost a timerfd update per request (measured: the top kernel symbol under
// load).
struct connection_handle {
    bool idle = false;
    std::function<void()> cancel;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    void expire_after(std::chrono::steady_clock::duration d) {
        deadline = std::chrono::steady_clock::now() + d;
    }
    void expire_never() { deadline = std::chrono::steady_clock::time_point::max(); }
};

} // namespace ag
