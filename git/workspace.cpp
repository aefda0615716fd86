#include "git/workspace.hpp"

#include "util/log.hpp"

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
    std::string content;
    {
        std::ifstream in(exclude);
        content.assign(std::istreambuf_iterator<char>(in), {});
    }
    if (content.find("\n/runs/\n") != std::string::npos || content.starts_with("/runs/\n"))
        return;
    std::ofstream out(exclude, std::ios::app);
    if (!content.empty() && content.back() != '\n')
        out << '\n';
    out << "/runs/\n";
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
    remove_stale_quarantines(git_dir());
    if (fresh) {
        std::lock_guard guard(lock_);
        auto c = commit_pending(raw, "Workspace as found at the first start of agent-gateway\n");
        log::info("git: initialised the workspace repository on branch main{}",
                  c ? " and committed its files as " + to_hex(*c).substr(0, 12) : " (empty)");
    }
}

std::optional<git_oid> workspace::commit_pending(git_repository* repo, std::string_view message) {
    git_index* raw_index = nullptr;
    check(git_repository_index(&raw_index, repo), "open the index");
    index_ptr index(raw_index);
    check(git_index_read(raw_index, 0), "read the index");
    // One pass over the work tree: new and changed files are added, vanished ones removed.
    check(git_index_add_all(raw_index, nullptr, GIT_INDEX_ADD_DEFAULT, nullptr, nullptr),
          "add workspace files");
    git_oid tree_id;
    check(git_index_write_tree(&tree_id, raw_index), "write the tree");

    git_oid head_id;
    const bool born = git_reference_name_to_id(&head_id, repo, "HEAD") == 0;
    commit_ptr parent;
    if (born) {
        git_commit* c = nullptr;
        check(git_commit_lookup(&c, repo, &head_id), "read HEAD");
        parent.reset(c);
        if (git_oid_equal(git_commit_tree_id(c), &tree_id))
            return std::nullopt;
    } else {
        git_tree* t = nullptr;
        check(git_tree_lookup(&t, repo, &tree_id), "read the tree");
        tree_ptr tree(t);
        if (git_tree_entrycount(t) == 0)
            return std::nullopt;
    }
    // Written (with an fsync) only when there is something to commit: a clean workspace costs a scan only.
    check(git_index_write(raw_index), "write the index");
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
