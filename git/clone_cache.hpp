#pragma once
// A full-clone pack kept under STATE, so a clone streams a file instead of waiting for libgit2's delta search
// (which redoes every delta: seconds for a repository of some thousand commits). Whatever the refs gained
// since the pack was built is packed on the fly and spliced after it: one pack stream, one object count, one
// trailing checksum. The pack is rebuilt in the background (lowered priority) when that part grows large.
#include "git/libgit2.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ag::git {

class pack_sink;
class workspace;

class clone_cache {
public:
    clone_cache(const clone_cache&) = delete;
    clone_cache& operator=(const clone_cache&) = delete;
    // How a rebuild runs in the background: the daemon's pool, at lowered priority.
    using background_runner = std::function<void(std::function<void()>)>;
    clone_cache(std::string dir, workspace& ws, background_runner run_in_background);
    ~clone_cache();

    // Loads the pack a previous run left (blocking).
    void load();
    // Builds a pack for the current refs unless the cached one covers them (blocking).
    void rebuild();
    // Starts rebuild() in the background unless one is running.
    void rebuild_in_background();
    // A running rebuild gives up, and this waits until it has; later calls to rebuild_in_background do
    // nothing.
    void stop() noexcept;

    // Streams a pack with every object reachable from `wants` (a clone: no haves, no depth) built from the
    // cached pack plus what it lacks. False, with nothing written, when there is no cached pack yet.
    bool serve(git_repository* repo, const std::vector<git_oid>& wants, pack_sink& out);

    struct pack;

private:
    std::shared_ptr<const pack> current() const;
    std::string dir_;
    workspace& ws_;
    mutable std::mutex mutex_;
    std::shared_ptr<const pack> current_;
    background_runner run_in_background_;
    std::mutex building_mutex_;
    std::condition_variable built_;
    bool building_ = false;         // under building_mutex_
    std::atomic<bool> stop_{false}; // a running rebuild gives up
};

} // namespace ag::git
