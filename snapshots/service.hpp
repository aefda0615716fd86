#pragma once
// Snapshots (docs/api.md §12): a commit of the workspace plus the UnixFS CID of its tree, recorded under
// STATE/snapshots; reset to any recorded snapshot; CAR export. Blocking calls, for the blocking pool; each
// takes the workspace lock (shared with git pushes) for as long as it touches the repository.
#include "git/workspace.hpp"
#include "snapshots/block_store.hpp"
#include "snapshots/ipfs_client.hpp"
#include "snapshots/tree_import.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ag::snapshots {

struct record {
    std::string cid;
    std::string commit;
    std::string change_summary;
    std::string content_diff;
    std::string created_at;
    bool pinned = false;
};

class service {
public:
    service(const service&) = delete;
    service& operator=(const service&) = delete;
    // `ipfs_api`: the Kubo RPC URL snapshots are pinned to (--ipfs-api), if any.
    service(git::workspace& ws, const std::string& state_dir, int cid_version,
            std::optional<std::string> ipfs_api = std::nullopt);
    ~service();

    // At start: the recorded snapshots, and a reset a crash interrupted is finished.
    void load();

    struct sync_result {
        bool created = false; // false: nothing changed since the latest snapshot
        std::optional<record> latest;
    };
    // Commits pending changes, computes the CID, records a snapshot when HEAD moved since the last one.
    sync_result sync(const git::workspace::turn& held, const char* why = "Snapshot");

    struct reset_result {
        record target;
        std::string commit; // the commit that now holds the target's tree
    };
    enum class reset_error { not_found };
    // Snapshot of pending work first, then the tracked files become exactly the target's tree. With
    // --ipfs-api a CID not known here is fetched from the node first (throws ipfs_error when it cannot be).
    std::optional<reset_result> reset(const git::workspace::turn& held, const cid& target);

    // Writes a CARv1 of the snapshot (root first, blocks in depth-first first-seen order) through `out`
    // (false: stop). False when the CID is not a recorded snapshot.
    bool write_car(const cid& root, const std::function<bool(std::string_view)>& out);

    // Pinning (with --ipfs-api): every recorded snapshot not pinned yet is sent as a CAR to dag/import.
    // Returns the error when the node could not take them (they stay pending). Blocking.
    std::optional<std::string> pin_pending();
    // When pinning should be tried again after `failures` failures in a row: 1 s, doubling to 60 s. The
    // daemon's pinner job (app/daemon.cpp) calls pin_pending() on the pool on that schedule.
    static std::chrono::seconds pin_retry_delay(unsigned failures);
    bool pinning_configured() const { return ipfs_ != nullptr; }
    std::string pinning_url() const { return ipfs_ ? ipfs_->url() : std::string(); }
    std::size_t pins_pending() const;
    std::optional<std::string> last_pin_error() const;

    std::vector<record> latest(std::size_t n) const;
    std::optional<record> find(const std::string& cid) const;
    std::optional<std::string> last_sync() const;

private:
    // why == nullptr: record HEAD as it is, without committing pending changes first.
    sync_result sync_locked(git_repository* repo, const char* why);
    void save(); // without mutex_ held
    std::optional<record> fetch_from_ipfs(const git::workspace::turn& held, const cid& target);
    void finish_reset(git_repository* repo, const std::string& commit_hex, const std::string& cid_text);

    git::workspace& ws_;
    std::string dir_;
    int version_;
    block_store blocks_;
    node_cache cache_;
    mutable std::mutex mutex_;    // records_, last_sync_, pin_error_
    std::vector<record> records_; // newest last
    std::optional<std::string> last_sync_;
    std::unique_ptr<ipfs_client> ipfs_;
    std::uint64_t save_seq_ = 0;  // under mutex_: states handed to save()
    std::mutex save_mutex_;       // one index.json writer at a time
    std::uint64_t saved_seq_ = 0; // under save_mutex_: the newest state written
    std::mutex pin_mutex_;        // one pinning pass at a time
    std::optional<std::string> pin_error_;
};

} // namespace ag::snapshots
