#pragma once
// Keeps the daemon safe from its workload (the engine, scripts, execs, task commands): every child gets a
// higher oom_score_adj than the daemon, so the kernel's OOM killer picks a child first, and joins a cgroup of
// its own under the daemon's where one can be written (cgroup v1 `pids` and `memory` hierarchies, or a
// delegated v2 subtree) with `pids.max` and, when asked, a memory limit: a fork bomb or a memory hog then
// fails inside that cgroup while the daemon keeps answering. Where no cgroup can be written, the oom score is
// still raised and the start logs what is missing.
//
// Children are moved into the cgroup right after they are spawned (posix_spawn cannot do it in the child):
// a process that forks within its first microseconds may leave a child behind in the daemon's cgroup.
// Thread-safe after construction.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ag::engine {

class workload_limits {
public:
    struct options {
        std::uint64_t max_pids = 4096; // tasks (processes and threads) of the workload; 0: no limit
        std::uint64_t max_memory = 0;  // bytes; 0: no limit of our own
        int oom_score_adj = 500;       // what children get (at least the daemon's own + 1)
        // Where the cgroup filesystems are (tests may point elsewhere).
        std::string cgroup_root = "/sys/fs/cgroup";
    };
    explicit workload_limits(options o);
    ~workload_limits();
    workload_limits(const workload_limits&) = delete;
    workload_limits& operator=(const workload_limits&) = delete;

    // Raises the child's oom score and moves it into the workload's cgroups. Never throws; a failure is
    // logged once.
    void adopt(pid_t pid) noexcept;

    // How many times the kernel's OOM killer ended a process of the workload so far (the cgroup's
    // memory.events `oom_kill`, or v1's memory.oom_control); 0 when no memory cgroup is there.
    std::uint64_t oom_kills() const;
    bool counts_oom_kills() const { return !oom_file_.empty(); }

    // For the start's log line: what is in place.
    std::string describe() const;

private:
    options options_;
    std::string oom_score_;                // the value written to /proc/PID/oom_score_adj
    std::vector<std::string> procs_files_; // cgroup.procs of each workload cgroup
    std::vector<std::string> made_;        // directories made, removed at the end when empty
    std::string oom_file_;                 // memory.events or memory.oom_control
    std::vector<std::string> missing_;     // what could not be set up, for describe()
};

} // namespace ag::engine
