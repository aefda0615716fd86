#include "snapshots/tree_import.hpp"

#include "util/log.hpp"

#include <fstream>
#include <sstream>

namespace ag::snapshots {

node_cache::node_cache(std::string path)
    : path_(std::move(path)) {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string oid, id;
        node n;
        if (!(fields >> oid >> id >> n.tsize >> n.content))
            continue; // a line cut short by a crash
        git_oid key;
        auto c = cid::parse(id);
        if (!git::parse_oid(oid, key) || !c)
            continue;
        n.id = *c;
        map_[key] = n;
    }
}

const node* node_cache::find(const git_oid& id) const {
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : &it->second;
}

void node_cache::add(const git_oid& id, const node& n) {
    if (!map_.emplace(id, n).second)
        return;
    pending_ += git::to_hex(id) + " " + n.id.to_string() + " " + std::to_string(n.tsize) + " " +
                std::to_string(n.content) + "\n";
}

void node_cache::flush() {
    if (pending_.empty())
        return;
    std::ofstream out(path_, std::ios::app);
    out << pending_;
    pending_.clear();
}

namespace {

node import_blob(git_repository* repo, const git_oid& id, bool symlink, unixfs_builder& builder,
                 import_stats& stats) {
    git_blob* raw = nullptr;
    git::check(git_blob_lookup(&raw, repo, &id), "read blob " + git::to_hex(id));
    git::blob_ptr blob(raw);
    std::string_view content(static_cast<const char*>(git_blob_rawcontent(raw)),
                             static_cast<std::size_t>(git_blob_rawsize(raw)));
    ++stats.files_read;
    stats.bytes_read += content.size();
    return symlink ? builder.symlink(content) : builder.file(content);
}

} // namespace

node import_tree(git_repository* repo, const git_oid& tree_id, unixfs_builder& builder, node_cache& cache,
                 import_stats& stats) {
    if (const node* known = cache.find(tree_id)) {
        ++stats.reused;
        return *known;
    }
    git_tree* raw = nullptr;
    git::check(git_tree_lookup(&raw, repo, &tree_id), "read tree " + git::to_hex(tree_id));
    git::tree_ptr tree(raw);
    std::vector<dir_entry> entries;
    const std::size_t n = git_tree_entrycount(raw);
    entries.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(raw, i);
        const git_oid& id = *git_tree_entry_id(e);
        dir_entry d{git_tree_entry_name(e), {}};
        switch (git_tree_entry_filemode(e)) {
        case GIT_FILEMODE_TREE:
            d.child = import_tree(repo, id, builder, cache, stats);
            break;
        case GIT_FILEMODE_COMMIT: // a submodule: its checkout is an empty directory here
            d.child = builder.directory({});
            break;
        case GIT_FILEMODE_LINK:
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE: {
            const bool link = git_tree_entry_filemode(e) == GIT_FILEMODE_LINK;
            // Symlinks and files of the same bytes are different nodes: only files go through the cache.
            const node* known = link ? nullptr : cache.find(id);
            if (known) {
                ++stats.reused;
                d.child = *known;
            } else {
                d.child = import_blob(repo, id, link, builder, stats);
                if (!link)
                    cache.add(id, d.child);
            }
            break;
        }
        default:
            continue;
        }
        entries.push_back(std::move(d));
    }
    node dir = builder.directory(std::move(entries));
    cache.add(tree_id, dir);
    return dir;
}

} // namespace ag::snapshots
