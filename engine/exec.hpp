#pragma once
// Contained commands: one-shot ones (console exec, task commands) with a timeout and bounded output, and the
// runs of background processes (engine/processes.hpp), whose output streams out as it comes.
#include <boost/asio/awaitable.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ag::engine {

class child_reaper;

// Ends the execs it was handed early, as if their timeout had passed (SIGTERM, then SIGKILL after the
// grace): the daemon's shutdown uses it for task commands. Thread-safe.
class exec_stopper {
public:
    void stop();
    // As stop(), with its own SIGTERM-to-SIGKILL grace instead of the request's kill_grace.
    void stop(std::chrono::milliseconds grace);
    bool stopped() const;
    std::optional<std::chrono::milliseconds> grace() const;
    // Calls `wake` at once when stop() was already called, else when it is. (For run_exec.)
    void on_stop(std::function<void()> wake);

private:
    mutable std::mutex mutex_;
    bool stopped_ = false;
    std::optional<std::chrono::milliseconds> grace_;
    std::vector<std::function<void()>> wakes_;
};

// A command's stdin kept open while it runs (a background process's input): writes queue here and reach the
// pipe in order; a command that does not read holds at most `max_pending` bytes. Thread-safe.
class exec_input {
public:
    static constexpr std::size_t max_pending = 1024 * 1024;
    enum class outcome { queued, not_running, closed, full };
    outcome write(std::string data);
    // EOF for the command once what is queued is written.
    outcome close();

private:
    friend struct exec_input_access;
    mutable std::mutex mutex_;
    std::vector<std::string> queue_;
    std::size_t pending_ = 0;
    bool running_ = false;
    bool closing_ = false;
    bool ended_ = false;
    std::function<void()> wake_; // set by run_exec while the command runs
};

// One piece of a command's output as it is read: 0 stdout, 1 stderr.
using output_sink = std::function<boost::asio::awaitable<void>(int stream, std::string_view data)>;

struct exec_request {
    std::string command;
    std::string cwd;
    std::vector<std::pair<std::string, std::string>> env; // added to the daemon's environment
    std::optional<std::string> stdin_data;                // none: /dev/null
    std::chrono::milliseconds timeout{60000};
    std::chrono::milliseconds kill_grace{2000}; // SIGTERM to SIGKILL
    std::size_t max_output = 1048576;           // per stream
    std::shared_ptr<exec_stopper> stopper;      // optional
    // Streaming: each piece of output, awaited before that stream is read further (a slow consumer slows the
    // command, never grows the daemon's memory). With a sink the result's texts stay empty.
    output_sink on_output;
    // Open stdin instead of stdin_data (which is then ignored).
    std::shared_ptr<exec_input> input;
    // Called once the command runs, with its pid (its process group's id), on the awaiting executor.
    std::function<void(pid_t)> on_started;
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
    bool stopped = false; // ended by its exec_stopper
    int wait_status = 0;  // waitpid's
    std::uint64_t stdout_bytes = 0;
    std::uint64_t stderr_bytes = 0;
    std::chrono::milliseconds duration{0};
};

// Runs /bin/sh -c command in its own process group. On timeout the whole group gets SIGTERM, then SIGKILL
// after kill_grace. Pipes are read until EOF, or for at most 250 ms after the shell exits (a background
// process that keeps them open does not hold the answer). If the awaiting coroutine is destroyed first
// (shutdown), the group is killed. Throws std::system_error if the process cannot be started.
boost::asio::awaitable<exec_result> run_exec(child_reaper& reaper, exec_request req);

} // namespace ag::engine
