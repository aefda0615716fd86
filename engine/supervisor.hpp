#pragma once
// Keeps one long-running process alive: the engine (--engine) or the manifest's start script. It runs under
// /bin/sh -c in its own process group with its output in the log; an unexpected exit restarts it after a
// backoff (1 s doubling to 60 s, back to 1 s once it ran 60 s); stopping sends SIGTERM to the group and
// SIGKILL 10 s later. All work happens on one io_context (the reaper's); the awaitables may be awaited from
// any executor and current() from any thread.
#include <sys/types.h>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace ag::logs {
class hub;
}

namespace ag::engine {

class child_reaper;

struct process_spec {
    std::string label;   // "engine", "start script": for the daemon's own log lines
    std::string command; // /bin/sh -c command
    std::string cwd;
    std::vector<std::string> env;
    std::string log_source; // source of its output lines
};

enum class run_state { not_running, starting, running };
std::string_view state_name(run_state s) noexcept; // "not_running", "starting", "running"

struct backoff_policy {
    std::chrono::milliseconds first{1000};
    std::chrono::milliseconds max{60000};
    std::chrono::milliseconds reset_after{60000};  // a run this long resets the delay to `first`
    std::chrono::milliseconds running_after{1000}; // "starting" until it stayed up this long
    std::chrono::milliseconds kill_after{10000};   // SIGTERM → SIGKILL
};

class supervisor {
public:
    supervisor(boost::asio::io_context& ioc, child_reaper& reaper, logs::hub& hub, process_spec spec,
               backoff_policy policy = {});
    ~supervisor();
    supervisor(const supervisor&) = delete;
    supervisor& operator=(const supervisor&) = delete;

    struct status {
        run_state state = run_state::not_running;
        std::optional<pid_t> pid;
        bool restart_pending = false; // exited unexpectedly; waiting for its backoff
        unsigned restarts = 0;        // unexpected exits so far
    };
    status current() const;

    void start(); // no-op if already wanted
    // Stops the running process (if any) and starts a new one, with `command` if given (the manifest may
    // have changed); answers the stopped one's pid.
    boost::asio::awaitable<std::optional<pid_t>> restart(std::optional<std::string> command = std::nullopt);
    // Stops it and keeps it stopped until start() or restart().
    boost::asio::awaitable<void> stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace ag::engine
