#pragma once
// Background processes (docs/api.md §18): commands contained as console execs (engine/exec.hpp) that run
// until they end, with their output on disk (engine/output_log.hpp), an open stdin, signals to their group,
// and a restart policy with the engine's backoff (engine/supervisor.hpp). Their records (the running ones and
// the last 100 ended) are kept under STATE and survive a daemon restart.
//
// Processes run on the reaper's io_context; every public member is thread-safe. The awaitables may be
// awaited from any executor.
#include "engine/supervisor.hpp"

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace ag {
class blocking_pool;
}

namespace ag::engine {

class child_reaper;
class exec_input;
class exec_stopper;
class output_log;

enum class restart_policy { never, on_failure, always };
std::optional<restart_policy> parse_restart_policy(std::string_view name) noexcept;
std::string_view restart_policy_name(restart_policy p) noexcept;

// Whether a run that ended so restarts, by the policy and the restarts so far.
bool should_restart(restart_policy p, bool succeeded, unsigned restarts,
                    std::optional<unsigned> max_restarts) noexcept;

struct process_spec_request {
    std::string command;
    std::string cwd;
    std::string name;
    std::vector<std::pair<std::string, std::string>> env; // added to the daemon's cleaned environment
    restart_policy restart = restart_policy::never;
    std::optional<unsigned> max_restarts; // none: no limit
};

struct process_info {
    std::string id;
    std::string name;
    std::string command;
    std::optional<pid_t> pid;     // while running
    std::string status;           // running|exited|failed|killed
    std::optional<int> exit_code; // once ended; 128+N when ended by signal N
    std::optional<int> signal;    // once ended; 0 when it exited
    bool oom_killed = false;
    unsigned restarts = 0;
    std::string started_at; // ISO-8601 UTC, of the current (or last) run
    std::optional<std::string> ended_at;
    std::uint64_t output_bytes = 0; // every byte of both streams so far
    std::int64_t duration_ms = 0;   // of the last run, once ended
    bool restart_pending = false;   // ended a run; the next starts after the backoff
    bool ended() const { return status != "running" && !restart_pending; }
};

// One process: its record, its output, its current run. Thread-safe.
class process {
public:
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    ~process();

    const std::string& id() const noexcept { return id_; }
    process_info info() const;
    output_log& output() const noexcept { return *output_; }

    // `wake` runs (on the processes' thread) when output or the end comes; keep it cheap (post).
    std::uint64_t subscribe(std::function<void()> wake);
    void unsubscribe(std::uint64_t token);

private:
    friend class processes;
    process(std::string id, std::shared_ptr<output_log> output);
    void notify();

    const std::string id_;
    std::shared_ptr<output_log> output_;
    process_spec_request spec_;
    mutable std::mutex mutex_;
    process_info info_;
    std::vector<std::pair<std::uint64_t, std::function<void()>>> watchers_;
    std::uint64_t next_token_ = 1;
    std::shared_ptr<exec_input> input_;     // the current run's stdin
    std::shared_ptr<exec_stopper> stopper_; // ends the current run and the restarts
    bool ending_ = false;                   // DELETE or shutdown: no restart
    bool forgotten_ = false;                // DELETE: its files go once it ended
    void* backoff_ = nullptr;               // the restart's timer while it waits (an asio::steady_timer)
};

class processes {
public:
    struct options {
        std::string dir;                                      // STATE/processes
        std::uint64_t output_bytes = 8 * 1024 * 1024;         // kept per process
        std::vector<std::pair<std::string, std::string>> env; // every process gets these (AGENT_ID)
        backoff_policy backoff;                               // the engine's
        std::chrono::milliseconds end_grace{2000};            // DELETE: SIGTERM, SIGKILL after this
        std::size_t max_running = 32;
        std::size_t keep_ended = 100;
    };

    processes(boost::asio::io_context& ioc, child_reaper& reaper, blocking_pool& pool, options o);
    ~processes();
    processes(const processes&) = delete;
    processes& operator=(const processes&) = delete;

    // Reads the records kept under `dir` (a run that was going when the daemon went is recorded as
    // killed). Call once before serving.
    void load();

    enum class start_error { none, too_many, cannot_start };
    // Starts a process: its record, or the reason it did not start.
    boost::asio::awaitable<std::pair<std::optional<process_info>, start_error>> start(process_spec_request r);

    std::vector<process_info> list() const; // oldest first
    std::shared_ptr<process> find(std::string_view id) const;

    enum class input_result { written, unknown, not_running, closed, full };
    input_result write_input(std::string_view id, std::string data, bool close);
    enum class signal_result { sent, unknown, not_running };
    signal_result send_signal(std::string_view id, int sig);
    // Ends it (SIGTERM, SIGKILL after end_grace) and forgets it; false when unknown.
    bool remove(std::string_view id);

    // Shutdown: ends every process as the engine is (SIGTERM, SIGKILL after the backoff policy's kill_after)
    // and waits for their ends; their records are kept. Idempotent.
    boost::asio::awaitable<void> stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace ag::engine
