#pragma once
// The one place that spawns and reaps child processes. SIGCHLD is handled in the event loop; every exited
// child is reaped with waitpid(-1), so orphans are reaped too when we run as PID 1. Thread-safe.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace ag::engine {

// After a child exits, what is still in its pipes or terminal is read for this long: a background process
// that keeps them open does not hold the exit back.
inline constexpr std::chrono::milliseconds drain_after_exit{250};

struct spawn_request {
    std::string command; // run as /bin/sh -c command
    std::string cwd;
    std::vector<std::string> env; // KEY=VALUE
    int stdin_fd = -1;            // child ends; -1 = /dev/null
    int stdout_fd = -1;
    int stderr_fd = -1;
    // A pseudo-terminal's device (/dev/pts/N): the child starts a session of its own and opens it as its
    // controlling terminal on 0-2 (the descriptors above are then ignored).
    std::string terminal;
};

class workload_limits;
class child_ledger;

class child_reaper {
public:
    // Exit callbacks run on `ioc`'s thread with the waitpid status.
    using exit_callback = std::function<void(int wait_status)>;

    explicit child_reaper(boost::asio::io_context& ioc);
    ~child_reaper();
    child_reaper(const child_reaper&) = delete;
    child_reaper& operator=(const child_reaper&) = delete;

    void start();
    void stop() noexcept;

    // Spawns in a new process group (pgid = pid; with a terminal, a new session) with default signal
    // dispositions and an empty mask; the child keeps only descriptors 0-2.
    // Throws std::system_error.
    pid_t spawn(const spawn_request& req, exit_callback on_exit);

    std::size_t running() const;

    // Every child spawned from now on is handed to `limits` (engine/workload_limits.hpp); null: none.
    void set_limits(workload_limits* limits) noexcept { limits_ = limits; }
    const workload_limits* limits() const noexcept { return limits_; }

    // Every child spawned from now on is written into `ledger` until it is reaped (engine/child_ledger.hpp).
    void set_ledger(child_ledger* ledger) noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    workload_limits* limits_ = nullptr;
};

// The daemon's environment without its own AGENT_GATEWAY_* settings, plus `extra` (later ones win).
std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& extra);

} // namespace ag::engine
