#include "snapshots/tree_import.hpp"

#include "util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

namespace ag::snapshots {

node_cache::node_cache(std::string path)
    : path_(std::move(path)) {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string oid, id, kind;
        node n;
        if (!(fields >> oid >> id >> n.tsize >> n.content >> kind))
            continue; // a line cut short by a crash
        git_oid key;
        auto c = cid::parse(id);
        if (!git::parse_oid(oid, key) || !c)
            continue;
        n.id = *c;
        map_[key] = n;
        if (kind == "f")
            blobs_[c->binary()] = key;
    }
}

const node* node_cache::find(const git_oid& id) const {
    std::lock_guard lock(mutex_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : &it->second; // entries are never removed: the pointer stays valid
}

std::optional<git_oid> node_cache::blob_of(const cid& file_root) const {
    std::lock_guard lock(mutex_);
    auto it = blobs_.find(file_root.binary());
    if (it == blobs_.end())
        return std::nullopt;
    return it->second;
}

void node_cache::add(const git_oid& id, const node& n, bool file) {
    std::lock_guard lock(mutex_);
    if (!map_.emplace(id, n).second)
        return;
    if (file)
        blobs_[n.id.binary()] = id;
    pending_ += git::to_hex(id) + " " + n.id.to_string() + " " + std::to_string(n.tsize) + " " +
                std::to_string(n.content) + (file ? " f\n" : " d\n");
}

void node_cache::flush() {
    std::lock_guard lock(mutex_);
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
                    cache.add(id, d.child, true);
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

namespace {

struct blob_job {
    git_oid id;
    std::string path; // relative to the work tree
    bool from_disk = false;
    struct stat st {};
};

bool same_stat(const struct stat& a, const struct stat& b) {
    return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
           a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
           a.st_ctim.tv_nsec == b.st_ctim.tv_nsec && a.st_ino == b.st_ino;
}

void collect(git_repository* repo, const git_oid& tree_id, const std::string& prefix, node_cache& cache,
             std::unordered_set<git_oid, git::oid_hash, git::oid_equal>& seen, std::vector<blob_job>& jobs) {
    if (cache.find(tree_id))
        return;
    git_tree* raw = nullptr;
    git::check(git_tree_lookup(&raw, repo, &tree_id), "read tree " + git::to_hex(tree_id));
    git::tree_ptr tree(raw);
    const std::size_t n = git_tree_entrycount(raw);
    for (std::size_t i = 0; i < n; ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(raw, i);
        const git_oid& id = *git_tree_entry_id(e);
        const std::string path = prefix + git_tree_entry_name(e);
        auto mode = git_tree_entry_filemode(e);
        if (mode == GIT_FILEMODE_TREE)
            collect(repo, id, path + "/", cache, seen, jobs);
        else if ((mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) && !cache.find(id) &&
                 seen.insert(id).second)
            jobs.push_back({id, path});
    }
}

} // namespace

void import_blobs(git_repository* repo, const git_oid& tree, const std::string& workdir, int cid_version,
                  block_sink& sink, node_cache& cache, import_stats& stats,
                  const std::function<git::repository_ptr()>& open_repo, unsigned threads) {
    std::vector<blob_job> jobs;
    std::unordered_set<git_oid, git::oid_hash, git::oid_equal> seen;
    collect(repo, tree, "", cache, seen, jobs);
    if (jobs.empty())
        return;
    // The index says which work tree files are these blobs (it was refreshed by the commit just made).
    git_index* raw_index = nullptr;
    if (git_repository_index(&raw_index, repo) == 0) {
        git::index_ptr index(raw_index);
        for (auto& j : jobs) {
            const git_index_entry* e = git_index_get_bypath(raw_index, j.path.c_str(), 0);
            if (!e || !git_oid_equal(&e->id, &j.id) ||
                ::lstat((workdir + "/" + j.path).c_str(), &j.st) != 0 || !S_ISREG(j.st.st_mode))
                continue;
            j.from_disk = static_cast<std::uint32_t>(j.st.st_size) == e->file_size &&
                          static_cast<std::uint32_t>(j.st.st_mtim.tv_sec) ==
                              static_cast<std::uint32_t>(e->mtime.seconds) &&
                          static_cast<std::uint32_t>(j.st.st_mtim.tv_nsec) == e->mtime.nanoseconds;
        }
    }
    std::mutex mutex; // cache and stats
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    auto work = [&] {
        try {
            git::repository_ptr own;
            unixfs_builder builder(cid_version, sink);
            for (std::size_t i; (i = next++) < jobs.size();) {
                const blob_job& j = jobs[i];
                std::optional<node> result;
                std::uint64_t bytes = 0;
                if (j.from_disk) {
                    int fd = ::open((workdir + "/" + j.path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                    if (fd >= 0) {
                        node n = builder.file([&](char* buf, std::size_t size) -> std::size_t {
                            ssize_t got = ::read(fd, buf, size);
                            if (got <= 0)
                                return 0;
                            bytes += static_cast<std::uint64_t>(got);
                            return static_cast<std::size_t>(got);
                        });
                        struct stat after {};
                        if (::fstat(fd, &after) == 0 && same_stat(after, j.st) &&
                            bytes == static_cast<std::uint64_t>(j.st.st_size))
                            result = n; // unchanged while it was read: it is the blob
                        ::close(fd);
                    }
                }
                if (!result) {
                    if (!own)
                        own = open_repo();
                    git_blob* raw = nullptr;
                    git::check(git_blob_lookup(&raw, own.get(), &j.id), "read blob " + git::to_hex(j.id));
                    git::blob_ptr blob(raw);
                    bytes = static_cast<std::uint64_t>(git_blob_rawsize(raw));
                    result = builder.file(std::string_view(static_cast<const char*>(git_blob_rawcontent(raw)),
                                                           static_cast<std::size_t>(bytes)));
                }
                cache.add(j.id, *result, true);
                std::lock_guard lock(mutex);
                ++stats.files_read;
                stats.bytes_read += bytes;
            }
        } catch (...) {
            std::lock_guard lock(mutex);
            if (!failure)
                failure = std::current_exception();
            next = jobs.size();
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < std::max(1u, threads); ++t)
        pool.emplace_back(work);
    work();
    for (auto& t : pool)
        t.join();
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace ag::snapshots
