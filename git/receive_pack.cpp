#include "git/receive_pack.hpp"

#include "git/advertise.hpp"
#include "git/libgit2.hpp"
#include "git/object_check.hpp"
#include "git/pkt_line.hpp"
#include "git/workspace.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace ag::git {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_command_bytes = 1 << 20;

struct command {
    git_oid old_id{};
    git_oid new_id{};
    std::string name;
    std::string error; // empty: accepted
};

std::string last_error_message() {
    const git_error* e = git_error_last();
    return e && e->message ? e->message : "libgit2 error";
}

// Writes the paths `changed` of commit `target` into the work tree with a safe checkout (nothing the agent
// changed is overwritten). Returns "" or why it could not; the caller restores the paths on failure.
std::string check_out(git_repository* repo, const git_oid& target_id, const std::vector<std::string>& changed,
                      std::vector<std::string>& messages) {
    git_object* target = nullptr;
    check(git_object_lookup(&target, repo, &target_id, GIT_OBJECT_COMMIT), "read commit");
    object_ptr owned_target(target);
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy =
        GIT_CHECKOUT_SAFE | GIT_CHECKOUT_DONT_OVERWRITE_IGNORED | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
    std::vector<std::string> conflicts;
    co.notify_flags = GIT_CHECKOUT_NOTIFY_CONFLICT;
    co.notify_cb = [](git_checkout_notify_t, const char* path, const git_diff_file*, const git_diff_file*,
                      const git_diff_file*, void* payload) -> int {
        auto* list = static_cast<std::vector<std::string>*>(payload);
        if (list->size() < 5)
            list->push_back(path);
        return 0;
    };
    co.notify_payload = &conflicts;
    std::vector<std::string> copies = changed;
    std::vector<char*> pathspec;
    pathspec.reserve(copies.size());
    for (auto& p : copies)
        pathspec.push_back(p.data());
    co.paths = {pathspec.data(), pathspec.size()};
    if (git_checkout_tree(repo, target, &co) < 0) {
        std::string paths;
        for (const auto& p : conflicts)
            paths += (paths.empty() ? "" : ", ") + p;
        messages.push_back("agent-gateway: the working tree could not take the push (" +
                           (paths.empty() ? last_error_message() : "changed meanwhile: " + paths) +
                           "); nothing was changed");
        return "Could not update working tree to new HEAD";
    }
    // libgit2 leaves out, without an error, entries it will not write on this platform: every file of the
    // pushed tree must be there, or the push is refused rather than recorded as deleted by the next commit.
    git_commit* c = nullptr;
    check(git_commit_lookup(&c, repo, &target_id), "read commit");
    commit_ptr commit(c);
    git_tree* t = nullptr;
    check(git_commit_tree(&t, c), "read tree");
    tree_ptr tree(t);
    const std::string workdir = git_repository_workdir(repo);
    for (const auto& p : changed) {
        git_tree_entry* e = nullptr;
        if (git_tree_entry_bypath(&e, t, p.c_str()) < 0)
            continue; // removed by the push
        std::unique_ptr<git_tree_entry, deleter<git_tree_entry, git_tree_entry_free>> entry(e);
        struct stat st {};
        if (git_tree_entry_filemode(e) != GIT_FILEMODE_COMMIT && ::lstat((workdir + p).c_str(), &st) != 0) {
            messages.push_back("agent-gateway: '" + p +
                               "' cannot be written to the work tree; nothing was changed");
            return "path cannot be checked out: " + p;
        }
    }
    return {};
}

} // namespace

struct receive_session::state {
    explicit state(workspace& w)
        : ws(w) {}
    workspace& ws;
    repository_ptr repo;
    enum class phase { commands, pack, rest } at = phase::commands;
    std::string buffer;
    std::vector<command> commands;
    bool sideband = false;
    bool quiet = false;
    std::string quarantine; // GIT_DIR/objects/incoming-XXXXXX, while a pack is being received
    indexer_ptr indexer;
    git_indexer_progress stats{};
    std::string unpack_error;
    bool finished = false;

    bool needs_pack() const {
        for (const auto& c : commands)
            if (!is_zero(c.new_id))
                return true;
        return false;
    }

    void parse_command(std::string_view line) {
        if (line.starts_with("shallow "))
            return; // a shallow client's roots; nothing here depends on them
        std::string_view caps;
        if (auto nul = line.find('\0'); nul != std::string_view::npos) {
            caps = line.substr(nul + 1);
            line = line.substr(0, nul);
        }
        if (commands.empty()) {
            auto has = [&](std::string_view c) {
                std::string_view rest = caps;
                while (!rest.empty()) {
                    while (!rest.empty() && rest.front() == ' ')
                        rest.remove_prefix(1);
                    auto sp = rest.find(' ');
                    if (rest.substr(0, sp) == c)
                        return true;
                    if (sp == std::string_view::npos)
                        break;
                    rest.remove_prefix(sp);
                }
                return false;
            };
            sideband = has("side-band-64k");
            quiet = has("quiet");
        }
        command c;
        if (line.size() < 83 || line[40] != ' ' || line[81] != ' ' ||
            !parse_oid(line.substr(0, 40), c.old_id) || !parse_oid(line.substr(41, 40), c.new_id))
            throw error("protocol error: bad ref update '" + std::string(line.substr(0, 100)) + "'");
        c.name = std::string(line.substr(82));
        commands.push_back(std::move(c));
    }

    void feed_pack(std::string_view data) {
        if (data.empty() || !unpack_error.empty())
            return;
        if (!indexer) {
            if (!repo)
                repo = ws.open();
            quarantine = ws.git_dir() + "/objects/incoming-XXXXXX";
            if (!::mkdtemp(quarantine.data())) {
                quarantine.clear();
                unpack_error = std::string("cannot create a quarantine: ") + std::strerror(errno);
                return;
            }
            fs::create_directory(quarantine + "/pack");
            git_odb* odb = nullptr;
            check(git_repository_odb(&odb, repo.get()), "odb");
            odb_ptr owned_odb(odb);
            git_indexer_options opts;
            git_indexer_options_init(&opts, GIT_INDEXER_OPTIONS_VERSION);
            opts.verify = 1; // every object the pack needs must be in it or in the repository
            git_indexer* idx = nullptr;
            if (git_indexer_new(&idx, (quarantine + "/pack").c_str(), 0, odb, &opts) < 0) {
                unpack_error = last_error_message();
                return;
            }
            indexer.reset(idx);
        }
        if (git_indexer_append(indexer.get(), data.data(), data.size(), &stats) < 0) {
            unpack_error = last_error_message();
            indexer.reset();
        }
    }

    void drop_quarantine() {
        if (quarantine.empty())
            return;
        indexer.reset();
        std::error_code ec;
        fs::remove_all(quarantine, ec);
        quarantine.clear();
    }

    // Moves the received pack into the repository: .pack first, .idx last (the index makes it visible).
    // Returns the moved files, so a push refused after this point can take them out again.
    std::vector<fs::path> migrate_quarantine() {
        indexer.reset();
        const std::string dest = ws.git_dir() + "/objects/pack/";
        std::vector<fs::path> moved;
        if (stats.total_objects > 0) {
            std::vector<fs::path> packs, idxs;
            for (const auto& e : fs::directory_iterator(quarantine + "/pack"))
                (e.path().extension() == ".idx" ? idxs : packs).push_back(e.path());
            for (const auto* group : {&packs, &idxs})
                for (const auto& p : *group) {
                    fs::rename(p, dest + p.filename().string());
                    moved.emplace_back(dest + p.filename().string());
                }
            fs_util::fsync_dir(dest);
        }
        drop_quarantine();
        return moved;
    }

    // A refused push's pack leaves the repository again (index first: then no reader looks into the pack).
    static void remove_migrated(const std::vector<fs::path>& moved) {
        std::error_code ec;
        for (std::size_t i = moved.size(); i-- > 0;)
            fs::remove(moved[i], ec);
    }
};

receive_session::receive_session(workspace& ws)
    : st_(std::make_unique<state>(ws)) {}

receive_session::~receive_session() {
    st_->drop_quarantine();
    st_.reset();
    release_memory();
}

void receive_session::feed(std::string_view data) {
    state& s = *st_;
    if (s.at == state::phase::commands) {
        s.buffer.append(data);
        std::size_t pos = 0;
        for (;;) {
            auto n = pkt_length(std::string_view(s.buffer).substr(pos));
            if (!n || (*n > 4 && s.buffer.size() - pos < *n))
                break;
            if (*n == 0) {
                pos += 4;
                s.at = s.needs_pack() ? state::phase::pack : state::phase::rest;
                break;
            }
            if (*n < 4)
                throw error("protocol error: unexpected pkt in ref updates");
            std::string_view line(s.buffer.data() + pos + 4, *n - 4);
            if (!line.empty() && line.back() == '\n')
                line.remove_suffix(1);
            s.parse_command(line);
            pos += *n;
        }
        if (s.at == state::phase::commands && s.buffer.size() > max_command_bytes)
            throw error("protocol error: ref update list too long");
        std::string rest = s.buffer.substr(pos);
        s.buffer.clear();
        if (s.at == state::phase::commands)
            s.buffer = std::move(rest);
        else if (s.at == state::phase::pack)
            s.feed_pack(rest);
        return;
    }
    if (s.at == state::phase::pack)
        s.feed_pack(data);
}

receive_session::outcome receive_session::finish(const workspace::turn& held,
                                                 const manifest_check& check_manifest) {
    state& s = *st_;
    outcome out;
    if (s.commands.empty())
        return out; // the client's credentials probe ("0000"), or nothing to do
    if (s.at == state::phase::commands)
        throw error("protocol error: the ref updates did not end with a flush");

    if (s.at == state::phase::pack && s.unpack_error.empty()) {
        if (!s.indexer)
            s.unpack_error = "no pack data";
        else if (git_indexer_commit(s.indexer.get(), &s.stats) < 0)
            s.unpack_error = last_error_message();
    }
    s.indexer.reset();
    s.repo.reset();
    // What git's transfer.fsckObjects refuses, before anything looks at the refs.
    if (s.unpack_error.empty() && !s.quarantine.empty())
        s.unpack_error = check_received_objects(s.quarantine);

    std::vector<std::string> messages;
    if (!s.unpack_error.empty())
        messages.push_back("agent-gateway: " + s.unpack_error);
    auto workspace_lock = held.hold();
    // The pending changes are committed through a handle that cannot see the quarantine: a file the agent
    // wrote with the same bytes as a pushed one must become an object of the repository, not a reference to
    // an object that leaves with a refused pack.
    repository_ptr repo = s.ws.open();
    const std::string head = workspace::head_branch(repo.get());
    bool failed = !s.unpack_error.empty();
    if (!failed) {
        bool touches_head = false;
        for (const auto& c : s.commands)
            touches_head |= c.name == head;
        if (touches_head) {
            if (auto pending = s.ws.commit_pending(repo.get(), "Workspace changes before a push\n"))
                messages.push_back("agent-gateway: the workspace had changes; committed them first as " +
                                   to_hex(*pending).substr(0, 12));
        }
    }
    git_odb* raw_odb = nullptr;
    check(git_repository_odb(&raw_odb, repo.get()), "odb");
    odb_ptr odb(raw_odb);
    if (!failed && !s.quarantine.empty())
        check(git_odb_add_disk_alternate(raw_odb, s.quarantine.c_str()), "read the pushed objects");

    if (!failed) {
        for (auto& c : s.commands) {
            int valid = 0;
            git_reference_name_is_valid(&valid, c.name.c_str());
            if (!c.name.starts_with("refs/") || !valid) {
                c.error = "funny refname";
                continue;
            }
            git_oid cur;
            if (git_reference_name_to_id(&cur, repo.get(), c.name.c_str()) < 0)
                std::memset(&cur, 0, sizeof cur);
            if (is_zero(c.new_id)) {
                if (c.name == head)
                    c.error = "deletion of the current branch prohibited";
                else if (!is_zero(cur) && !git_oid_equal(&cur, &c.old_id))
                    c.error = "fetch first";
                continue;
            }
            std::size_t len;
            git_object_t type;
            if (git_odb_read_header(&len, &type, raw_odb, &c.new_id) < 0) {
                c.error = "missing necessary objects";
                continue;
            }
            if (c.name.starts_with("refs/heads/") && type != GIT_OBJECT_COMMIT) {
                c.error = "not a commit";
                continue;
            }
            if (!is_zero(cur) && !git_oid_equal(&cur, &c.new_id)) {
                git_object_t cur_type;
                if (git_odb_read_header(&len, &cur_type, raw_odb, &cur) < 0 ||
                    cur_type != GIT_OBJECT_COMMIT || type != GIT_OBJECT_COMMIT) {
                    c.error = "already exists";
                    continue;
                }
                if (git_graph_descendant_of(repo.get(), &c.new_id, &cur) != 1) {
                    c.error = "non-fast-forward";
                    continue;
                }
            }
            if (!git_oid_equal(&cur, &c.old_id) && !git_oid_equal(&cur, &c.new_id)) {
                c.error = "fetch first";
                continue;
            }
            if (c.name == head) {
                git_commit* commit = nullptr;
                check(git_commit_lookup(&commit, repo.get(), &c.new_id), "read the pushed commit");
                commit_ptr owned_commit(commit);
                git_tree* tree = nullptr;
                check(git_commit_tree(&tree, commit), "read the pushed tree");
                tree_ptr owned_tree(tree);
                git_tree_entry* entry = nullptr;
                if (git_tree_entry_bypath(&entry, tree, "manifest.json") == 0) {
                    std::unique_ptr<git_tree_entry, deleter<git_tree_entry, git_tree_entry_free>> e(entry);
                    git_blob* blob = nullptr;
                    if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB ||
                        git_blob_lookup(&blob, repo.get(), git_tree_entry_id(entry)) < 0) {
                        c.error = "manifest.json is not a file";
                        continue;
                    }
                    blob_ptr owned_blob(blob);
                    std::string problem =
                        check_manifest(std::string_view(static_cast<const char*>(git_blob_rawcontent(blob)),
                                                        static_cast<std::size_t>(git_blob_rawsize(blob))));
                    if (!problem.empty()) {
                        c.error = "manifest.json: " + problem;
                        continue;
                    }
                }
            }
        }
        for (const auto& c : s.commands)
            failed |= !c.error.empty();
    }
    odb.reset();
    repo.reset();

    if (!failed) {
        // Every check passed: the objects join the repository, then the work tree follows, then the refs
        // move. A refusal from here on takes the pack out again; a crash leaves it unreferenced (harmless),
        // and a checkout it interrupted is undone at the next start (workspace::begin_checkout).
        std::vector<fs::path> migrated;
        if (!s.quarantine.empty())
            migrated = s.migrate_quarantine();
        repo = s.ws.open();
        auto sig = daemon_signature();
        git_transaction* raw_tx = nullptr;
        check(git_transaction_new(&raw_tx, repo.get()), "transaction");
        transaction_ptr tx(raw_tx);
        std::string problem;
        for (const auto& c : s.commands) {
            if (git_transaction_lock_ref(raw_tx, c.name.c_str()) < 0) {
                problem = "failed to lock";
                break;
            }
        }
        const command* moves_head = nullptr;
        for (const auto& c : s.commands)
            if (c.name == head && !is_zero(c.new_id))
                moves_head = &c;
        std::vector<std::string> changed;
        bool checkout_begun = false;
        if (problem.empty() && moves_head) {
            git_oid head_id;
            const bool born = git_reference_name_to_id(&head_id, repo.get(), "HEAD") == 0;
            // Only the paths the push changes: the rest of the tree is what HEAD has (pending changes were
            // committed above), and looking at every file of a large workspace again costs a stat each.
            changed = workspace::paths_between(repo.get(), born ? &head_id : nullptr, moves_head->new_id);
            if (changed.empty()) {
                out.checked_out_moved = true; // the same tree: nothing to write
            } else {
                s.ws.begin_checkout(born ? &head_id : nullptr, moves_head->new_id);
                checkout_begun = true;
                problem = check_out(repo.get(), moves_head->new_id, changed, messages);
                out.checked_out_moved = problem.empty();
            }
        }
        if (problem.empty()) {
            try {
                for (const auto& c : s.commands) {
                    if (is_zero(c.new_id))
                        check(git_transaction_remove(raw_tx, c.name.c_str()), "delete " + c.name);
                    else
                        check(
                            git_transaction_set_target(raw_tx, c.name.c_str(), &c.new_id, sig.get(), "push"),
                            "update " + c.name);
                }
                check(git_transaction_commit(raw_tx), "update refs");
                out.refs_changed = true;
            } catch (const std::exception& e) {
                log::error("git push: {}", e.what());
                problem = "failed to update ref";
            }
        }
        tx.reset();
        repo.reset();
        if (!problem.empty()) {
            // The work tree goes back to where its ref still is.
            if (checkout_begun)
                s.ws.restore_paths(changed);
            out.checked_out_moved = false;
            state::remove_migrated(migrated);
            for (auto& c : s.commands)
                c.error = problem;
            failed = true;
        }
        if (checkout_begun)
            s.ws.end_checkout();
    }
    if (failed) {
        for (auto& c : s.commands)
            if (c.error.empty())
                c.error = s.unpack_error.empty() ? "atomic push failure" : "unpacker error";
        s.drop_quarantine();
    } else {
        for (const auto& c : s.commands)
            out.refs_removed |= is_zero(c.new_id);
        if (out.checked_out_moved)
            for (const auto& c : s.commands)
                if (c.name == head)
                    messages.push_back("agent-gateway: working tree updated to " +
                                       to_hex(c.new_id).substr(0, 12));
    }

    std::string report;
    append_pkt(report, s.unpack_error.empty() ? "unpack ok\n" : "unpack " + s.unpack_error + "\n");
    for (const auto& c : s.commands)
        append_pkt(report, c.error.empty() ? "ok " + c.name + "\n" : "ng " + c.name + " " + c.error + "\n");
    report.append(flush_pkt);
    if (!s.sideband) {
        out.body = std::move(report);
        return out;
    }
    if (!s.quiet || failed)
        for (const auto& m : messages)
            append_band(out.body, 2, m + "\n");
    append_band(out.body, 1, report);
    out.body.append(flush_pkt);
    return out;
}

} // namespace ag::git
