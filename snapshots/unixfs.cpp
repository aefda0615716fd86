#include "snapshots/unixfs.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ag::snapshots {

namespace {

void append_bytes_field(std::string& out, unsigned char tag, std::string_view bytes) {
    out.push_back(static_cast<char>(tag));
    append_varint(out, bytes.size());
    out.append(bytes);
}

void append_varint_field(std::string& out, unsigned char tag, std::uint64_t v) {
    out.push_back(static_cast<char>(tag));
    append_varint(out, v);
}

// PBLink {Hash=1, Name=2, Tsize=3}, always with all three (what boxo writes, "" for file chunks).
void append_link(std::string& out, const cid& target, std::string_view name, std::uint64_t tsize) {
    std::string link;
    append_bytes_field(link, 0x0a, target.binary());
    append_bytes_field(link, 0x12, name);
    append_varint_field(link, 0x18, tsize);
    append_bytes_field(out, 0x12, link); // PBNode.Links = 2
}

std::uint64_t rotl(std::uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}
std::uint64_t fmix(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

constexpr char hex_upper[] = "0123456789ABCDEF";

} // namespace

std::uint64_t murmur3_x64_64(std::string_view key) {
    const auto* data = reinterpret_cast<const unsigned char*>(key.data());
    const std::size_t len = key.size();
    const std::size_t blocks = len / 16;
    std::uint64_t h1 = 0, h2 = 0;
    const std::uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;
    for (std::size_t i = 0; i < blocks; ++i) {
        std::uint64_t k1, k2;
        std::memcpy(&k1, data + i * 16, 8);
        std::memcpy(&k2, data + i * 16 + 8, 8);
        k1 *= c1;
        k1 = rotl(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    const unsigned char* tail = data + blocks * 16;
    std::uint64_t k1 = 0, k2 = 0;
    switch (len & 15) {
    case 15:
        k2 ^= std::uint64_t(tail[14]) << 48;
        [[fallthrough]];
    case 14:
        k2 ^= std::uint64_t(tail[13]) << 40;
        [[fallthrough]];
    case 13:
        k2 ^= std::uint64_t(tail[12]) << 32;
        [[fallthrough]];
    case 12:
        k2 ^= std::uint64_t(tail[11]) << 24;
        [[fallthrough]];
    case 11:
        k2 ^= std::uint64_t(tail[10]) << 16;
        [[fallthrough]];
    case 10:
        k2 ^= std::uint64_t(tail[9]) << 8;
        [[fallthrough]];
    case 9:
        k2 ^= std::uint64_t(tail[8]);
        k2 *= c2;
        k2 = rotl(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        [[fallthrough]];
    case 8:
        k1 ^= std::uint64_t(tail[7]) << 56;
        [[fallthrough]];
    case 7:
        k1 ^= std::uint64_t(tail[6]) << 48;
        [[fallthrough]];
    case 6:
        k1 ^= std::uint64_t(tail[5]) << 40;
        [[fallthrough]];
    case 5:
        k1 ^= std::uint64_t(tail[4]) << 32;
        [[fallthrough]];
    case 4:
        k1 ^= std::uint64_t(tail[3]) << 24;
        [[fallthrough]];
    case 3:
        k1 ^= std::uint64_t(tail[2]) << 16;
        [[fallthrough]];
    case 2:
        k1 ^= std::uint64_t(tail[1]) << 8;
        [[fallthrough]];
    case 1:
        k1 ^= std::uint64_t(tail[0]);
        k1 *= c1;
        k1 = rotl(k1, 31);
        k1 *= c2;
        h1 ^= k1;
    }
    h1 ^= len;
    h2 ^= len;
    h1 += h2;
    h2 += h1;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 += h2;
    return h1;
}

node unixfs_builder::put(const std::string& block, codec kind, std::uint64_t links_tsize,
                         std::uint64_t content) {
    node n;
    n.id = cid_of(version_, kind, block);
    n.tsize = block.size() + links_tsize;
    n.content = content;
    if (in_file_)
        sink_.put_file_block(n.id, block);
    else
        sink_.put(n.id, block);
    return n;
}

node unixfs_builder::leaf(std::string_view chunk) {
    // Leaves are nearly all of a snapshot's bytes: hashed in place, and copied into a block only for a sink
    // that keeps file blocks.
    node n;
    n.content = chunk.size();
    if (version_ == 1) {
        n.id = cid_of(1, codec::raw, chunk);
        n.tsize = chunk.size();
        sink_.put_file_block(n.id, chunk);
        return n;
    }
    // dag-pb leaf: 0a <len> [08 02 (12 <n> <chunk>) 18 <n>]
    std::string data_head, tail;
    append_varint_field(data_head, 0x08, 2); // Type File
    if (!chunk.empty()) {
        data_head.push_back(0x12);
        append_varint(data_head, chunk.size());
    }
    append_varint_field(tail, 0x18, chunk.size());
    std::string head;
    head.push_back(0x0a);
    append_varint(head, data_head.size() + chunk.size() + tail.size());
    head += data_head;
    n.id = cid_of_parts(0, codec::dag_pb, {head, chunk, tail});
    n.tsize = head.size() + chunk.size() + tail.size();
    if (sink_.wants_file_blocks())
        sink_.put_file_block(n.id, head + std::string(chunk) + tail);
    return n;
}

node unixfs_builder::internal(const std::vector<node>& children) {
    std::string block;
    std::uint64_t links = 0, content = 0;
    for (const auto& c : children) {
        append_link(block, c.id, "", c.tsize);
        links += c.tsize;
        content += c.content;
    }
    std::string data;
    append_varint_field(data, 0x08, 2);
    append_varint_field(data, 0x18, content);
    for (const auto& c : children)
        append_varint_field(data, 0x20, c.content); // blocksizes: not packed, one tag each
    append_bytes_field(block, 0x0a, data);
    return put(block, codec::dag_pb, links, content);
}

node unixfs_builder::file(const std::function<std::size_t(char*, std::size_t)>& read) {
    struct file_scope {
        file_scope(const file_scope&) = delete;
        file_scope& operator=(const file_scope&) = delete;
        bool& flag;
        explicit file_scope(bool& f)
            : flag(f) {
            flag = true;
        }
        ~file_scope() { flag = false; }
    } scope(in_file_);
    std::string chunk(chunk_size, '\0');
    auto next = [&]() -> bool {
        std::size_t got = 0;
        while (got < chunk_size) {
            std::size_t n = read(chunk.data() + got, chunk_size - got);
            if (n == 0)
                break;
            got += n;
        }
        chunk.resize(got);
        return got > 0;
    };
    // The balanced layout (boxo importer/balanced): the first leaf is the file if nothing follows; else the
    // root grows one level at a time, each new root holding the old one first and filled to 174 links.
    next();
    node root = leaf(chunk);
    chunk.resize(chunk_size);
    bool more = next();
    // A node `depth` levels above the leaves, starting with `children`, filled to 174 links or the end.
    std::function<node(int, std::vector<node>)> fill = [&](int depth, std::vector<node> children) -> node {
        while (children.size() < max_links && more) {
            if (depth == 1) {
                children.push_back(leaf(chunk));
                chunk.resize(chunk_size);
                more = next();
            } else {
                children.push_back(fill(depth - 1, {}));
            }
        }
        return internal(children);
    };
    // fill() sets `more` (a while: clang's -Wfor-loop-analysis does not see the lambda change it).
    int depth = 1;
    while (more)
        root = fill(depth++, {root});
    return root;
}

node unixfs_builder::file(std::string_view content) {
    return file([&content](char* buf, std::size_t n) {
        n = std::min(n, content.size());
        std::memcpy(buf, content.data(), n);
        content.remove_prefix(n);
        return n;
    });
}

node unixfs_builder::symlink(std::string_view target) {
    std::string data;
    append_varint_field(data, 0x08, 4); // Type Symlink
    append_bytes_field(data, 0x12, target);
    std::string block;
    append_bytes_field(block, 0x0a, data);
    return put(block, codec::dag_pb, 0, 0);
}

node unixfs_builder::directory(std::vector<dir_entry> entries) {
    std::sort(entries.begin(), entries.end(),
              [](const dir_entry& a, const dir_entry& b) { return a.name < b.name; });
    std::size_t estimate = 0;
    for (const auto& e : entries)
        estimate += e.name.size() + e.child.id.binary().size();
    if (estimate > hamt_threshold) {
        std::vector<dir_entry*> all;
        all.reserve(entries.size());
        for (auto& e : entries)
            all.push_back(&e);
        return hamt(all, 0);
    }
    std::string block;
    std::uint64_t links = 0;
    for (const auto& e : entries) {
        append_link(block, e.child.id, e.name, e.child.tsize);
        links += e.child.tsize;
    }
    block.append("\x0a\x02\x08\x01", 4); // Data: Type Directory
    return put(block, codec::dag_pb, links, 0);
}

// A HAMT shard (boxo ipld/unixfs/hamt): 256 slots chosen by successive bytes of the name's hash; a slot with
// one entry links it as "XX<name>", a slot with several links a sub-shard as "XX".
node unixfs_builder::hamt(std::vector<dir_entry*>& entries, int depth) {
    if (depth >= 8)
        throw std::runtime_error("HAMT: names collide in all 64 bits of their hash");
    std::vector<std::vector<dir_entry*>> slots(256);
    for (auto* e : entries) {
        std::uint64_t h = murmur3_x64_64(e->name);
        slots[(h >> (56 - 8 * depth)) & 0xff].push_back(e);
    }
    std::string block;
    std::uint64_t links = 0;
    unsigned char bitfield[32] = {};
    for (int i = 0; i < 256; ++i) {
        if (slots[i].empty())
            continue;
        bitfield[31 - i / 8] |= static_cast<unsigned char>(1u << (i % 8));
        std::string name{hex_upper[i >> 4], hex_upper[i & 15]};
        if (slots[i].size() == 1) {
            append_link(block, slots[i][0]->child.id, name + slots[i][0]->name, slots[i][0]->child.tsize);
            links += slots[i][0]->child.tsize;
        } else {
            node sub = hamt(slots[i], depth + 1);
            append_link(block, sub.id, name, sub.tsize);
            links += sub.tsize;
        }
    }
    std::size_t first = 0;
    while (first < 31 && bitfield[first] == 0)
        ++first;
    std::string data;
    append_varint_field(data, 0x08, 5); // Type HAMTShard
    append_bytes_field(
        data, 0x12,
        std::string_view(reinterpret_cast<const char*>(bitfield) + first, sizeof bitfield - first));
    append_varint_field(data, 0x28, 0x22); // hashType murmur3-x64-64
    append_varint_field(data, 0x30, 256);  // fanout
    append_bytes_field(block, 0x0a, data);
    return put(block, codec::dag_pb, links, 0);
}

} // namespace ag::snapshots
