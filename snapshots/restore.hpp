#pragma once
// The way back from IPFS: a CAR fetched from a node is checked block by block (every hash must match its CID
// and the DAG must be complete) before anything is written, then its UnixFS tree is written into the
// repository as git blobs and trees.
#include "git/libgit2.hpp"
#include "snapshots/cid.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ag::snapshots {

using block_map = std::map<std::string, std::string>; // binary CID → block

// The CIDs a block links to, in order (none for a raw block). Throws std::runtime_error on a malformed dag-pb
// block.
std::vector<cid> links_of(const cid& id, std::string_view block);

// Parses a CARv1 and verifies every block against its CID. Throws std::runtime_error naming the first
// problem.
block_map read_car(std::string_view car);

// Every block reachable from `root` is in `blocks` (throws otherwise).
void check_complete(const block_map& blocks, const cid& root);

// Writes the UnixFS directory `root` as a git tree (files 100644, symlinks 120000); returns the tree id.
git_oid write_git_tree(git_repository* repo, const block_map& blocks, const cid& root);

} // namespace ag::snapshots
