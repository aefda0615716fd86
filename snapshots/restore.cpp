#include "snapshots/restore.hpp"

#include <functional>
#include <stdexcept>
#include <vector>

namespace ag::snapshots {

namespace {

std::uint64_t read_varint(std::string_view& s) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (s.empty())
            throw std::runtime_error("truncated varint");
        auto b = static_cast<unsigned char>(s.front());
        s.remove_prefix(1);
        v |= std::uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    throw std::runtime_error("varint too long");
}

struct pb_link {
    cid target;
    std::string name;
};
struct pb_node {
    std::vector<pb_link> links;
    std::string data;
};

pb_node decode_pb(std::string_view s) {
    pb_node n;
    while (!s.empty()) {
        auto key = read_varint(s);
        if ((key & 7) != 2)
            throw std::runtime_error("dag-pb: unexpected wire type");
        auto len = read_varint(s);
        if (len > s.size())
            throw std::runtime_error("dag-pb: truncated field");
        std::string_view field = s.substr(0, len);
        s.remove_prefix(len);
        if ((key >> 3) == 1) {
            n.data = std::string(field);
        } else if ((key >> 3) == 2) {
            pb_link l;
            bool has_hash = false;
            while (!field.empty()) {
                auto k = read_varint(field);
                if ((k & 7) == 0) {
                    read_varint(field);
                    continue;
                }
                auto fl = read_varint(field);
                if (fl > field.size())
                    throw std::runtime_error("dag-pb: truncated link");
                if ((k >> 3) == 1) {
                    auto c = cid::from_binary(field.substr(0, fl));
                    if (!c)
                        throw std::runtime_error("dag-pb: unsupported CID in a link");
                    l.target = *c;
                    has_hash = true;
                } else if ((k >> 3) == 2) {
                    l.name = std::string(field.substr(0, fl));
                }
                field.remove_prefix(fl);
            }
            if (!has_hash)
                throw std::runtime_error("dag-pb: link without a hash");
            n.links.push_back(std::move(l));
        }
    }
    return n;
}

struct unixfs_data {
    std::uint64_t type = 0;
    std::string data;
};

unixfs_data decode_unixfs(std::string_view s) {
    unixfs_data u;
    while (!s.empty()) {
        auto key = read_varint(s);
        switch (key & 7) {
        case 0: {
            auto v = read_varint(s);
            if ((key >> 3) == 1)
                u.type = v;
            break;
        }
        case 2: {
            auto len = read_varint(s);
            if (len > s.size())
                throw std::runtime_error("unixfs: truncated field");
            if ((key >> 3) == 2)
                u.data = std::string(s.substr(0, len));
            s.remove_prefix(len);
            break;
        }
        default:
            throw std::runtime_error("unixfs: unexpected wire type");
        }
    }
    return u;
}

const std::string& block_of(const block_map& blocks, const cid& c) {
    auto it = blocks.find(c.binary());
    if (it == blocks.end())
        throw std::runtime_error("block " + c.to_string() + " is missing from the CAR");
    return it->second;
}

class tree_writer {
public:
    tree_writer(git_repository* repo, const block_map& blocks)
        : repo_(repo)
        , blocks_(blocks) {
        git_odb* odb = nullptr;
        git::check(git_repository_odb(&odb, repo), "odb");
        odb_.reset(odb);
    }

    git_oid directory(const cid& c) {
        git_treebuilder* raw = nullptr;
        git::check(git_treebuilder_new(&raw, repo_, nullptr), "tree builder");
        std::unique_ptr<git_treebuilder, git::deleter<git_treebuilder, git_treebuilder_free>> tb(raw);
        add_entries(tb.get(), c, false);
        git_oid out;
        git::check(git_treebuilder_write(&out, tb.get()), "write a tree");
        return out;
    }

private:
    void add_entries(git_treebuilder* tb, const cid& c, bool shard) {
        pb_node n = decode_pb(block_of(blocks_, c));
        auto u = decode_unixfs(n.data);
        if (!shard && u.type != 1 && u.type != 5)
            throw std::runtime_error(c.to_string() + " is not a UnixFS directory");
        for (const auto& l : n.links) {
            if (u.type == 5) { // HAMT: "XX" a sub-shard, "XX<name>" an entry
                if (l.name.size() < 2)
                    throw std::runtime_error("HAMT link without a bucket");
                if (l.name.size() == 2) {
                    add_entries(tb, l.target, true);
                    continue;
                }
                add_entry(tb, l.name.substr(2), l.target);
            } else {
                add_entry(tb, l.name, l.target);
            }
        }
    }

    void add_entry(git_treebuilder* tb, const std::string& name, const cid& c) {
        if (name.empty() || name == "." || name == ".." || name == ".git" ||
            name.find('/') != std::string::npos)
            throw std::runtime_error("refusing the entry name '" + name + "'");
        git_oid id;
        git_filemode_t mode = GIT_FILEMODE_BLOB;
        if (c.kind == codec::raw) {
            id = blob_of_file(c);
        } else {
            pb_node n = decode_pb(block_of(blocks_, c));
            auto u = decode_unixfs(n.data);
            if (u.type == 1 || u.type == 5) {
                id = directory(c);
                mode = GIT_FILEMODE_TREE;
            } else if (u.type == 4) {
                git::check(git_blob_create_from_buffer(&id, repo_, u.data.data(), u.data.size()),
                           "write a link");
                mode = GIT_FILEMODE_LINK;
            } else if (u.type == 2 || u.type == 0) {
                id = blob_of_file(c);
            } else {
                throw std::runtime_error(c.to_string() + ": unsupported UnixFS type " +
                                         std::to_string(u.type));
            }
        }
        git::check(git_treebuilder_insert(nullptr, tb, name.c_str(), &id, mode), "add '" + name + "'");
    }

    // A file's bytes, leaf by leaf in order, streamed into a blob.
    git_oid blob_of_file(const cid& root) {
        std::string content;
        std::function<void(const cid&)> walk = [&](const cid& c) {
            const std::string& block = block_of(blocks_, c);
            if (c.kind == codec::raw) {
                content += block;
                return;
            }
            pb_node n = decode_pb(block);
            auto u = decode_unixfs(n.data);
            content += u.data;
            for (const auto& l : n.links)
                walk(l.target);
        };
        walk(root);
        git_oid id;
        git::check(git_blob_create_from_buffer(&id, repo_, content.data(), content.size()), "write a file");
        return id;
    }

    git_repository* repo_;
    const block_map& blocks_;
    git::odb_ptr odb_;
};

} // namespace

std::vector<cid> links_of(const cid& id, std::string_view block) {
    std::vector<cid> out;
    if (id.kind == codec::dag_pb)
        for (auto& l : decode_pb(block).links)
            out.push_back(l.target);
    return out;
}

block_map read_car(std::string_view car) {
    block_map blocks;
    std::string_view s = car;
    auto header_len = read_varint(s);
    if (header_len > s.size())
        throw std::runtime_error("CAR: truncated header");
    s.remove_prefix(header_len);
    while (!s.empty()) {
        auto len = read_varint(s);
        if (len > s.size() || len < 34)
            throw std::runtime_error("CAR: truncated section");
        std::string_view section = s.substr(0, len);
        s.remove_prefix(len);
        std::size_t cid_len = section[0] == 0x12 ? 34 : 36;
        auto c = cid::from_binary(section.substr(0, cid_len));
        if (!c)
            throw std::runtime_error("CAR: a block with an unsupported CID");
        std::string_view block = section.substr(cid_len);
        if (cid_of(c->version, c->kind, block) != *c)
            throw std::runtime_error("CAR: block " + c->to_string() + " does not match its hash");
        blocks.emplace(c->binary(), std::string(block));
    }
    return blocks;
}

void check_complete(const block_map& blocks, const cid& root) {
    std::vector<cid> stack{root};
    std::map<std::string, bool> seen;
    while (!stack.empty()) {
        cid c = stack.back();
        stack.pop_back();
        if (!seen.emplace(c.binary(), true).second)
            continue;
        for (const auto& child : links_of(c, block_of(blocks, c)))
            stack.push_back(child);
    }
}

git_oid write_git_tree(git_repository* repo, const block_map& blocks, const cid& root) {
    tree_writer w(repo, blocks);
    return w.directory(root);
}

} // namespace ag::snapshots
