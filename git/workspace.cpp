#include "git/workspace.hpp"

#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace ag::git {

namespace fs = std::filesystem;

namespace {

// The engine's run output lives in /runs/: never part of the repository (CONTRACT §12).
void keep_runs_ignored(const std::string& git_dir) {
    const fs::path exclude = fs::path(git_dir) / "info" / "exclude";
    std::error_code ec;
    fs::create_directories(exclude.parent_path(), ec);
    std::string content = fs_util::read_file(exclude.string()).value_or("");
    if (content.find("\n/runs/\n") != std::string::npos || content.starts_with("/runs/\n"))
        return;
    std::ofstream out(exclude, std::ios::app);
    if (!content.empty() && content.back() != '\n')
        out << '\n';
    out << "/runs/\n";
}

// A lock file outlives a writer that was killed (index.lock while the index was written, refs/heads/x.lock
// while a ref moved) and would refuse every later write. At start nothing of ours is writing, and the engine
// has not started yet.
void remove_stale_locks(const std::string& git_dir) {
    std::error_code ec;
    for (const char* name : {"index.lock", "HEAD.lock", "packed-refs.lock", "config.lock"}) {
        if (fs::remove(fs::path(git_dir) / name, ec))
            log::warn("git: removed a stale {} (a writer was killed)", name);
    }
    for (auto it = fs::recursive_directory_iterator(fs::path(git_dir) / "refs", ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->path().extension() == ".lock" && fs::remove(it->path(), ec))
            log::warn("git: removed a stale {}", it->path().string());
    }
}

void remove_stale_quarantines(const std::string& git_dir) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(fs::path(git_dir) / "objects", ec)) {
        if (entry.path().filename().string().starts_with("incoming-")) {
            log::warn("git: removing an unfinished push's objects ({})", entry.path().filename().string());
            fs::remove_all(entry.path(), ec);
        }
    }
}

} // namespace

workspace::workspace(std::string dir)
    : dir_(std::move(dir)) {}

signature_ptr daemon_signature() {
    git_signature* sig = nullptr;
    check(git_signature_now(&sig, "agent-gateway", "agent-gateway@localhost"), "signature");
    return signature_ptr(sig);
}

std::string workspace::head_branch(git_repository* repo) {
    git_reference* head = nullptr;
    if (git_reference_lookup(&head, repo, "HEAD") < 0)
        return {};
    reference_ptr owned(head);
    if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC)
        return {};
    return git_reference_symbolic_target(head);
}

void workspace::prepare() {
    init_library();
    git_repository* raw = nullptr;
    bool fresh = false;
    int rc = git_repository_open_ext(&raw, dir_.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
    if (rc == GIT_ENOTFOUND) {
        git_repository_init_options opts;
        git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
        opts.flags = GIT_REPOSITORY_INIT_MKPATH;
        opts.initial_head = "main";
        check(git_repository_init_ext(&raw, dir_.c_str(), &opts), "initialise the workspace repository");
        fresh = true;
    } else {
        check(rc, "open the workspace repository");
    }
    repository_ptr repo(raw);
    if (git_repository_is_bare(raw))
        throw error("the workspace " + dir_ + " is a bare repository");
    keep_runs_ignored(git_dir());
    remove_stale_locks(git_dir());
    remove_stale_quarantines(git_dir());
    if (fresh) {
        std::lock_guard guard(lock_);
        auto c = commit_pending(raw, "Workspace as found at the first start of agent-gateway\n");
        log::info("git: initialised the workspace repository on branch main{}",
                  c ? " and committed its files as " + to_hex(*c).substr(0, 12) : " (empty)");
    }
}

namespace {

// The index's stat cache in one number: if a pass over the work tree refreshed it, the index is worth writing
// even when there is nothing to commit (otherwise every later pass hashes those files again).
std::uint64_t stat_fingerprint(git_index* index) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    const std::size_t n = git_index_entrycount(index);
    mix(n);
    for (std::size_t i = 0; i < n; ++i) {
        const git_index_entry* e = git_index_get_byindex(index, i);
        mix(static_cast<std::uint64_t>(e->mtime.seconds) << 32 | e->mtime.nanoseconds);
        mix(static_cast<std::uint64_t>(e->ctime.seconds) << 32 | e->ctime.nanoseconds);
        mix(static_cast<std::uint64_t>(e->ino) << 32 | e->file_size);
        mix(e->mode);
        std::uint64_t id;
        std::memcpy(&id, e->id.id, sizeof id);
        mix(id);
    }
    return h;
}

} // namespace

std::optional<git_oid> workspace::commit_pending(git_repository* repo, std::string_view message) {
    git_index* raw_index = nullptr;
    check(git_repository_index(&raw_index, repo), "open the index");
    index_ptr index(raw_index);
    check(git_index_read(raw_index, 0), "read the index");
    const std::uint64_t before = stat_fingerprint(raw_index);

    // One pass over the work tree with the index's stat cache (files whose stat data match are not read);
    // files found unchanged after all get their stat data refreshed in the index.
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS | GIT_DIFF_INCLUDE_TYPECHANGE |
                 GIT_DIFF_UPDATE_INDEX;
    git_diff* raw_diff = nullptr;
    check(git_diff_index_to_workdir(&raw_diff, repo, raw_index, &opts), "compare the work tree");
    std::unique_ptr<git_diff, deleter<git_diff, git_diff_free>> diff(raw_diff);
    const std::size_t n = git_diff_num_deltas(raw_diff);
    for (std::size_t i = 0; i < n; ++i) {
        const git_diff_delta* d = git_diff_get_delta(raw_diff, i);
        int rc = (d->new_file.flags & GIT_DIFF_FLAG_EXISTS)
                     ? git_index_add_bypath(raw_index, d->new_file.path)
                     : git_index_remove_bypath(raw_index, d->old_file.path);
        if (rc < 0) {
            // One odd path (a nested repository without commits, a file that vanished meanwhile) must not
            // stop the rest from being recorded.
            const git_error* e = git_error_last();
            log::warn("git: left out of the commit: {}: {}", d->new_file.path,
                      e && e->message ? e->message : "?");
        }
    }
    git_oid tree_id;
    check(git_index_write_tree(&tree_id, raw_index), "write the tree");

    git_oid head_id;
    const bool born = git_reference_name_to_id(&head_id, repo, "HEAD") == 0;
    commit_ptr parent;
    bool nothing_new = false;
    if (born) {
        git_commit* c = nullptr;
        check(git_commit_lookup(&c, repo, &head_id), "read HEAD");
        parent.reset(c);
        nothing_new = git_oid_equal(git_commit_tree_id(c), &tree_id);
    } else {
        git_tree* t = nullptr;
        check(git_tree_lookup(&t, repo, &tree_id), "read the tree");
        tree_ptr tree(t);
        nothing_new = git_tree_entrycount(t) == 0;
    }
    // The index is written (with an fsync) when it changed: a clean workspace costs one pass of stat calls.
    if (!nothing_new || stat_fingerprint(raw_index) != before)
        check(git_index_write(raw_index), "write the index");
    if (nothing_new)
        return std::nullopt;
    git_tree* t = nullptr;
    check(git_tree_lookup(&t, repo, &tree_id), "read the tree");
    tree_ptr tree(t);
    auto sig = daemon_signature();
    const git_commit* parents[1] = {parent.get()};
    git_oid out;
    std::string msg(message);
    check(git_commit_create(&out, repo, "HEAD", sig.get(), sig.get(), nullptr, msg.c_str(), t, born ? 1 : 0,
                            parents),
          "commit the workspace");
    return out;
}

} // namespace ag::git
