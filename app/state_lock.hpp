#pragma once
// One daemon per state directory (docs/api.md §2). Two daemons on one STATE would each take the other's
// child ledger, process records, tasks and snapshots for their own; the second one to start refuses instead.
// The lock is flock(2) on STATE/lock, held by an open descriptor: the kernel lets go of it however the
// daemon ends (kill -9 included), and no child ever holds it (the descriptor is close-on-exec, and children
// get descriptors 0-2 only).
#include <string>

namespace ag::app {

class state_lock {
public:
    // Throws std::runtime_error naming the daemon that holds it (its pid, from the file) when another does.
    explicit state_lock(const std::string& state_dir);
    ~state_lock();
    state_lock(const state_lock&) = delete;
    state_lock& operator=(const state_lock&) = delete;

private:
    int fd_ = -1;
};

} // namespace ag::app
