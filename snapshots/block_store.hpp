#pragma once
// Content-addressed blocks under STATE/blocks: one file per block, named by its CID, written whole or not at
// all (temp file + rename). sync() makes everything written so far durable at once (one syncfs instead of an
// fsync per block); a snapshot is recorded only after it.
#include "snapshots/cid.hpp"
#include "snapshots/unixfs.hpp"

#include <atomic>
#include <optional>
#include <string>

namespace ag::snapshots {

class block_store final : public block_sink {
public:
    explicit block_store(std::string dir);

    void put(const cid& id, std::string_view block) override; // no-op when present
    // A file's blocks are not kept: the file's bytes are in git, and the node cache says which blob a file
    // node was made from (snapshots::service::write_car makes them again). This keeps the store at the size
    // of the directory nodes, not a second copy of the workspace.
    void put_file_block(const cid&, std::string_view) override {}
    bool wants_file_blocks() const override { return false; }
    bool has(const cid& id) const;
    // The block, if present and its hash matches its name (a damaged file counts as missing).
    std::optional<std::string> get(const cid& id) const;
    void sync();
    const std::string& dir() const { return dir_; }
    std::size_t written() const { return written_; }

private:
    std::string path_of(const cid& id) const;
    std::string dir_;
    std::atomic<std::size_t> written_{0};
};

} // namespace ag::snapshots
