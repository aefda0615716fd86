#pragma once
// The workspace as a git repository (docs/api.md §13, §12): made one at start if needed, committed on demand,
// and one lock that orders everything that moves its refs or its files (pushes, snapshots, checkouts).
#include "git/libgit2.hpp"
#include "runtime/async_mutex.hpp"

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::git {

class workspace {
public:
    explicit workspace(std::string dir);

    // Blocking; once at start. Initialises the repository if the workspace is not one (branch main, what is
    // there committed), keeps /runs/ ignored, and removes push quarantines a crash left behind.
    void prepare();

    const std::string& dir() const { return dir_; }
    std::string git_dir() const { return dir_ + "/.git"; }

    // The workspace's one lock, held by everything that moves its refs or its files (a push, a snapshot, a
    // reset). A request takes it in two steps, in the only order that works, which this type keeps: enter()
    // is awaited on the I/O thread (waiting holds no thread of the blocking pool), then the blocking work on
    // the pool holds it with hold(), uncontended by then. Blocking functions that move the workspace take a
    // `const turn&`, so none can be called without it.
    class turn {
    public:
        std::unique_lock<std::mutex> hold() const { return std::unique_lock(ws_->lock_); }

    private:
        friend class workspace;
        turn(workspace* ws, async_mutex::guard gate)
            : ws_(ws)
            , gate_(std::move(gate)) {}
        workspace* ws_;
        async_mutex::guard gate_;
    };
    boost::asio::awaitable<turn> enter();
    // For blocking work outside any request (finishing an interrupted reset at start): the pool-side lock
    // alone, which a turn's hold() also waits for.
    std::unique_lock<std::mutex> hold_outside_requests() { return std::unique_lock(lock_); }

    // A fresh handle: libgit2 repositories are not shared between threads.
    repository_ptr open() const { return open_repository(dir_); }

    // Commits whatever differs from HEAD (new, changed and removed files, honouring ignores; the index's stat
    // cache avoids rehashing unchanged files). Returns the new commit, or nullopt when there was nothing to
    // commit. The caller holds the workspace (turn::hold()).
    std::optional<git_oid> commit_pending(git_repository* repo, std::string_view message);

    // The branch HEAD points at ("refs/heads/main"), whether or not it has a commit yet.
    static std::string head_branch(git_repository* repo);

    // The paths whose entries differ between commit `from` (null: an empty tree) and commit `to`, both sides
    // of a rename.
    static std::vector<std::string> paths_between(git_repository* repo, const git_oid* from,
                                                  const git_oid& to);

    // A checkout that moves the work tree ahead of its ref (a push) is announced first, so that a crash in
    // the middle is undone at the next start: the work tree always follows the ref. The caller holds the
    // workspace.
    void begin_checkout(const git_oid* from, const git_oid& to);
    void end_checkout();

    // Puts `paths` of the work tree (and the index) back to what HEAD has: files HEAD lacks are removed,
    // ignored files are left alone. Used after a checkout that failed half-way. The caller holds the
    // workspace.
    void restore_paths(const std::vector<std::string>& paths);

private:
    std::string checkout_marker() const { return git_dir() + "/agent-gateway-checkout"; }
    void finish_interrupted_checkout();

    std::string dir_;
    async_mutex gate_; // before lock_, always: see turn
    std::mutex lock_;
};

signature_ptr daemon_signature();

} // namespace ag::git
