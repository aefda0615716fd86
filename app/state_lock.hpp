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
    // Waits up to 3 s for a holder to let go (a daemon killed a moment ago holds it until the kernel has torn
    // it down), then throws std::runtime_error naming the holder (its pid, from the file).
    explicit state_lock(const std::string& state_dir);
    ~state_lock();
    state_lock(const state_lock&) = delete;
    state_lock& operator=(const state_lock&) = delete;

private:
    int fd_ = -1;
};

} // namespace ag::app
