#pragma once
// The process groups this daemon started and that may still run, in STATE/children (docs/api.md §18). A
// daemon killed with SIGKILL cannot end its engine, scripts, execs, terminals and background processes:
// they run in process groups of their own and go on without it, an engine keeping its port. The next start
// on the same state reads the ledger and kills those groups before it starts anything, so a restarted
// engine never finds its port taken and a background process never runs twice.
//
// The ledger is written without fsync on purpose: it only matters when the machine did not go down (a
// reboot ends every process; the boot id tells). One line is appended per spawn; the file is cut back to its
// header whenever no child is running, and rewritten from the running ones when it grows past 64 KiB (or
// twice what the last rewrite left, when many run at once).
//
// A group is identified by its id, its session and when its leader started (a window of clock ticks since
// boot around the spawn), so an id the kernel gave to somebody else's process since is never killed. A group
// that leads a session of its own (a terminal) answers for every group of that session (its shell's jobs).
// Thread-safe.
#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ag::engine {

// One process as /proc/PID/stat shows it.
struct proc_entry {
    pid_t pid = 0;
    pid_t pgid = 0;
    pid_t sid = 0;
    std::uint64_t start = 0; // clock ticks since boot
    bool zombie = false;     // exited, not reaped yet: it holds no port or file any more
};

// The groups of `ledger` that still run among `procs`, written on boot `boot_id`. None when the ledger is
// from another boot, unreadable, or its writer (a daemon still running on this state) is among `procs`.
std::vector<pid_t> leftover_groups(std::string_view ledger, std::string_view boot_id,
                                   const std::vector<proc_entry>& procs);

// One process of `proc_root`; none when it is gone (or its stat cannot be read).
std::optional<proc_entry> read_proc_entry(pid_t pid, const std::string& proc_root = "/proc");

// Every process of this machine's /proc (those that went while it was read are left out).
std::vector<proc_entry> read_proc(const std::string& proc_root = "/proc");

// Clock ticks since boot, as /proc/PID/stat counts a process's start.
std::uint64_t ticks_since_boot() noexcept;

class child_ledger {
public:
    // Kills what an earlier daemon on this ledger left running (waiting up to 2 s for it to go), then
    // starts the ledger afresh. Never throws: a ledger that cannot be written is logged once and not kept.
    explicit child_ledger(std::string path);
    ~child_ledger();
    child_ledger(const child_ledger&) = delete;
    child_ledger& operator=(const child_ledger&) = delete;

    // A group started: its leader `pgid` in session `sid`, started between the ticks `from` and `to`.
    void started(pid_t pgid, pid_t sid, std::uint64_t from, std::uint64_t to) noexcept;
    // Its leader was reaped (members it left behind are the engine's or the processes' to kill).
    void ended(pid_t pgid) noexcept;

    std::size_t killed_at_start() const noexcept { return killed_; }

private:
    void rewrite() noexcept; // under mutex_

    std::string path_;
    std::string header_;
    int fd_ = -1;
    std::size_t killed_ = 0;
    std::size_t size_ = 0;
    std::size_t compact_at_ = 64 * 1024;
    std::mutex mutex_;
    std::unordered_map<pid_t, std::string> running_; // leader → its line
};

} // namespace ag::engine
