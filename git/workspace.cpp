#include "git/workspace.hpp"

#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace ag::git {

namespace fs = std::filesystem;

namespace {

// The engine's run output lives in /runs/: never part of the repository (docs/api.md §12).
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

boost::asio::awaitable<workspace::turn> workspace::enter() {
    auto gate = co_await gate_.lock();
    co_return turn(this, std::move(gate));
}

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
    finish_interrupted_checkout();
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

std::vector<std::string> workspace::paths_between(git_repository* repo, const git_oid* from,
                                                  const git_oid& to) {
    auto tree_of = [repo](const git_oid& id) {
        git_commit* c = nullptr;
        check(git_commit_lookup(&c, repo, &id), "read commit " + to_hex(id));
        commit_ptr commit(c);
        git_tree* t = nullptr;
        check(git_commit_tree(&t, c), "read the tree of " + to_hex(id));
        return tree_ptr(t);
    };
    tree_ptr new_tree = tree_of(to);
    tree_ptr old_tree = from ? tree_of(*from) : nullptr;
    git_diff* raw_diff = nullptr;
    check(git_diff_tree_to_tree(&raw_diff, repo, old_tree.get(), new_tree.get(), nullptr), "compare trees");
    std::unique_ptr<git_diff, deleter<git_diff, git_diff_free>> diff(raw_diff);
    std::vector<std::string> out;
    const std::size_t n = git_diff_num_deltas(raw_diff);
    for (std::size_t i = 0; i < n; ++i) {
        const git_diff_delta* d = git_diff_get_delta(raw_diff, i);
        out.emplace_back(d->old_file.path);
        if (std::strcmp(d->new_file.path, d->old_file.path) != 0)
            out.emplace_back(d->new_file.path);
    }
    return out;
}

void workspace::begin_checkout(const git_oid* from, const git_oid& to) {
    fs_util::write_file_atomic(checkout_marker(), (from ? to_hex(*from) : "-") + " " + to_hex(to) + "\n",
                               0600);
}

void workspace::end_checkout() {
    const std::string marker = checkout_marker();
    if (::unlink(marker.c_str()) == 0)
        fs_util::fsync_dir(git_dir());
}

void workspace::restore_paths(const std::vector<std::string>& paths) {
    if (paths.empty())
        return;
    // A fresh handle: a failed checkout leaves its changes in the in-memory index of the handle it used.
    repository_ptr repo = open();
    git_oid head_id;
    if (git_reference_name_to_id(&head_id, repo.get(), "HEAD") < 0) {
        // Unborn HEAD: nothing is tracked, so every such path is removed.
        std::error_code ec;
        for (const auto& p : paths) {
            fs::path full = fs::path(dir_) / p;
            fs::remove(full, ec);
            for (fs::path d = full.parent_path(); d != fs::path(dir_) && fs::is_empty(d, ec);
                 d = d.parent_path())
                fs::remove(d, ec);
        }
        return;
    }
    git_object* head = nullptr;
    check(git_object_lookup(&head, repo.get(), &head_id, GIT_OBJECT_COMMIT), "read HEAD");
    object_ptr owned(head);
    std::vector<char*> pathspec;
    std::vector<std::string> copies = paths;
    pathspec.reserve(copies.size());
    for (auto& p : copies)
        pathspec.push_back(p.data());
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy =
        GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
    co.paths = {pathspec.data(), pathspec.size()};
    check(git_checkout_tree(repo.get(), head, &co), "restore the work tree");
}

// A start after a crash in the middle of a push's checkout: the paths it touched go back to what the ref
// says (the old commit if the ref did not move, the pushed one if it did).
void workspace::finish_interrupted_checkout() {
    auto marker = fs_util::read_file(checkout_marker());
    if (!marker)
        return;
    git_oid from{}, to{};
    const bool has_from = marker->size() >= 40 && parse_oid(std::string_view(*marker).substr(0, 40), from);
    const auto space = marker->find(' ');
    if (space == std::string::npos || !parse_oid(std::string_view(*marker).substr(space + 1, 40), to)) {
        log::warn("git: ignoring an unreadable {}", checkout_marker());
        end_checkout();
        return;
    }
    repository_ptr repo = open();
    std::vector<std::string> paths;
    try {
        paths = paths_between(repo.get(), has_from ? &from : nullptr, to);
    } catch (const error& e) {
        // The pushed objects never reached the repository: the checkout had not begun.
        log::warn("git: an interrupted push left no checkout to undo ({})", e.what());
        end_checkout();
        return;
    }
    log::warn("git: a push was interrupted during its checkout; putting {} path(s) back to HEAD",
              paths.size());
    restore_paths(paths);
    end_checkout();
}

} // namespace ag::git
