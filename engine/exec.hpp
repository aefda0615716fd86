#pragma once
// One-shot commands (console exec; later build scripts and task commands) with a timeout and bounded output.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ag::engine {

class child_reaper;

// Ends the execs it was handed early, as if their timeout had passed (SIGTERM, then SIGKILL after the
// grace): the daemon's shutdown uses it for task commands. Thread-safe.
class exec_stopper {
public:
    void stop();
    bool stopped() const;
    // Calls `wake` at once when stop() was already called, else when it is. (For run_exec.)
    void on_stop(std::function<void()> wake);

private:
    mutable std::mutex mutex_;
    bool stopped_ = false;
    std::vector<std::function<void()>> wakes_;
};

struct exec_request {
    std::string command;
    std::string cwd;
    std::vector<std::pair<std::string, std::string>> env; // added to the daemon's environment
    std::optional<std::string> stdin_data;                // none: /dev/null
    std::chrono::milliseconds timeout{60000};
    std::chrono::milliseconds kill_grace{2000}; // SIGTERM to SIGKILL
    std::size_t max_output = 1048576;           // per stream
    std::shared_ptr<exec_stopper> stopper;      // optional
};

struct exec_result {
    std::string stdout_text;
    std::string stderr_text;
    int exit_code = 0; // 128+N when killed by signal N; 124 on timeout
    int signal = 0;    // the signal that ended the shell, 0 when it exited
    bool oom_killed =
        false; // the kernel's OOM killer ended a process of this command (where a cgroup shows it)
    bool timed_out = false;
    bool truncated = false;
    std::chrono::milliseconds duration{0};
};

// Runs /bin/sh -c command in its own process group. On timeout the whole group gets SIGTERM, then SIGKILL
// after kill_grace. Pipes are read until EOF, or for at most 250 ms after the shell exits (a background
// process that keeps them open does not hold the answer). If the awaiting coroutine is destroyed first
// (shutdown), the group is killed. Throws std::system_error if the process cannot be started.
boost::asio::awaitable<exec_result> run_exec(child_reaper& reaper, exec_request req);

} // namespace ag::engine
