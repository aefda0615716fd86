#pragma once
// The one lifecycle of every long-lived part of the daemon (token watch, child reaper, engine, scripts,
// journal follower, snapshots and their pinner, clone cache, and what comes next). The composition root
// (app/daemon.cpp) starts them in one loop, in order, and stops them in reverse, each after the one started
// after it has stopped.
#include <string_view>

namespace ag {

class service {
public:
    service() = default;
    service(const service&) = delete;
    service& operator=(const service&) = delete;
    virtual ~service() = default;

    // For the log: "engine", "snapshots", ...
    virtual std::string_view name() const noexcept = 0;
    // Runs on the main I/O thread before the daemon serves. Throws when the part cannot start; the daemon
    // then does not start either.
    virtual void start() = 0;
    // Begins stopping and returns at once; calling it again does nothing. Stopping may take time (children
    // get SIGTERM, then SIGKILL 10 s later): stopped() says when it is over.
    virtual void stop() noexcept = 0;
    virtual bool stopped() const noexcept { return true; }
};

} // namespace ag
