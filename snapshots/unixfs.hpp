#pragma once
// UnixFS DAGs byte for byte as Kubo's `ipfs add -r --hidden --cid-version=V` writes them (design note
// unixfs-snapshots.md): 256 KiB chunks, balanced layout with 174 links, dag-pb leaves for v0 and raw leaves
// for v1, symlink nodes, basic directories that become HAMT shards past 256 KiB of names and CIDs.
#include "snapshots/cid.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::snapshots {

inline constexpr std::size_t chunk_size = 262144;
inline constexpr std::size_t max_links = 174;
inline constexpr std::size_t hamt_threshold = 262144;

// What a parent needs to link a child.
struct node {
    cid id;
    std::uint64_t tsize = 0;   // bytes of all the child's blocks (dag-pb Tsize)
    std::uint64_t content = 0; // file bytes under it (UnixFS blocksizes)
};

class block_sink {
public:
    virtual ~block_sink() = default;
    virtual void put(const cid& id, std::string_view block) = 0;
    // The blocks of a file (leaves and the nodes above them). A sink that can get the file's bytes again
    // elsewhere (from git) may drop them.
    virtual void put_file_block(const cid& id, std::string_view block) { put(id, block); }
    virtual bool wants_file_blocks() const { return true; }
};

struct dir_entry {
    std::string name;
    node child;
};

class unixfs_builder {
public:
    unixfs_builder(int cid_version, block_sink& sink)
        : version_(cid_version)
        , sink_(sink) {}

    // `read` fills up to n bytes and returns how many; 0 at the end.
    node file(const std::function<std::size_t(char*, std::size_t)>& read);
    node file(std::string_view content);
    node symlink(std::string_view target);
    node directory(std::vector<dir_entry> entries);

private:
    node leaf(std::string_view chunk);
    node internal(const std::vector<node>& children);
    node put(const std::string& block, codec kind, std::uint64_t links_tsize, std::uint64_t content);
    node hamt(std::vector<dir_entry*>& entries, int depth);
    int version_;
    block_sink& sink_;
    bool in_file_ = false;
};

// MurmurHash3 x64 128, first 64 bits: what UnixFS HAMT shards hash names with.
std::uint64_t murmur3_x64_64(std::string_view key);

} // namespace ag::snapshots
