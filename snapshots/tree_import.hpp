#pragma once
// The UnixFS DAG of a git tree, as `ipfs add -r --hidden` computes it for a checkout of that tree: blobs
// become files (the executable bit is not recorded), 120000 entries symlinks, trees directories, submodules
// empty directories. Known git object ids map straight to their UnixFS node (a cache kept under STATE), so a
// tree that changed in one file costs that file and the directories above it.
#include "git/libgit2.hpp"
#include "snapshots/block_store.hpp"
#include "snapshots/unixfs.hpp"

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ag::snapshots {

class node_cache {
public:
    // One file per CID version: lines "<git oid> <cid> <tsize> <content size> <f|d>" (file or directory).
    explicit node_cache(std::string path);
    const node* find(const git_oid& id) const;
    void add(const git_oid& id, const node& n, bool file = false);
    // The blob a file node was made from (for making its blocks again).
    std::optional<git_oid> blob_of(const cid& file_root) const;
    void flush(); // appends what was added since the last flush

private:
    std::string path_;
    std::unordered_map<git_oid, node, git::oid_hash, git::oid_equal> map_;
    std::unordered_map<std::string, git_oid> blobs_; // binary CID of a file node → its blob
    mutable std::mutex mutex_;                       // add() runs on several threads
    std::string pending_;
};

struct import_stats {
    std::size_t files_read = 0;
    std::uint64_t bytes_read = 0;
    std::size_t reused = 0;
};

node import_tree(git_repository* repo, const git_oid& tree, unixfs_builder& builder, node_cache& cache,
                 import_stats& stats);

} // namespace ag::snapshots

namespace ag::snapshots {

// Before import_tree: computes the file nodes of every blob of `tree` the cache does not know, on `threads`
// threads. A file whose index entry and stat data say it is the blob is read from the work tree (no inflating
// of git objects); it is checked again after reading and taken from git if it changed meanwhile.
// `open_repo` gives each thread its own repository handle.
void import_blobs(git_repository* repo, const git_oid& tree, const std::string& workdir, int cid_version,
                  block_sink& sink, node_cache& cache, import_stats& stats,
                  const std::function<git::repository_ptr()>& open_repo, unsigned threads = 2);

} // namespace ag::snapshots
