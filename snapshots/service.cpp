#include "snapshots/service.hpp"

#include "git/workspace.hpp"
#include "snapshots/restore.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace ag::snapshots {

namespace {

constexpr std::size_t max_diff = 64 * 1024;
constexpr std::size_t kept = 100; // records kept on disk; the API shows 10

// Cuts at a UTF-8 character boundary at most `limit` bytes in.
std::string cut_utf8(std::string s, std::size_t limit) {
    if (s.size() <= limit)
        return s;
    std::size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80)
        --end;
    s.resize(end);
    return s;
}

using diff_ptr = std::unique_ptr<git_diff, git::deleter<git_diff, git_diff_free>>;

// "3 files changed, 10 insertions(+), 2 deletions(-)" and the unified diff between two commits' trees.
std::pair<std::string, std::string> describe_change(git_repository* repo, const std::string& from_hex,
                                                    const git_oid& to) {
    git::tree_ptr old_tree, new_tree;
    auto tree_of = [&](const git_oid& c) {
        git_commit* commit = nullptr;
        git::check(git_commit_lookup(&commit, repo, &c), "read commit");
        git::commit_ptr owned(commit);
        git_tree* t = nullptr;
        git::check(git_commit_tree(&t, commit), "read tree");
        return git::tree_ptr(t);
    };
    git_oid from;
    if (!from_hex.empty() && git::parse_oid(from_hex, from))
        old_tree = tree_of(from);
    new_tree = tree_of(to);
    git_diff* raw = nullptr;
    // Files over 1 MiB count as binary without being read: a snapshot of large files would otherwise inflate
    // every one of them again just to count lines.
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.max_size = 1 << 20;
    git::check(git_diff_tree_to_tree(&raw, repo, old_tree.get(), new_tree.get(), &opts), "diff");
    diff_ptr diff(raw);
    git_diff_stats* stats = nullptr;
    git::check(git_diff_get_stats(&stats, raw), "diff stats");
    std::unique_ptr<git_diff_stats, git::deleter<git_diff_stats, git_diff_stats_free>> owned_stats(stats);
    git_buf summary = GIT_BUF_INIT;
    git_diff_stats_to_buf(&summary, stats, GIT_DIFF_STATS_SHORT, 0);
    std::string s(summary.ptr ? summary.ptr : "", summary.size);
    git_buf_dispose(&summary);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    while (!s.empty() && s.front() == ' ')
        s.erase(0, 1);
    // The patch, stopped once it passes the limit (a huge diff is never built whole).
    std::string patch;
    git_diff_print(
        raw, GIT_DIFF_FORMAT_PATCH,
        [](const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line, void* payload) -> int {
            auto* out = static_cast<std::string*>(payload);
            if (line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
                line->origin == GIT_DIFF_LINE_DELETION)
                out->push_back(line->origin);
            out->append(line->content, line->content_len);
            return out->size() > max_diff ? 1 : 0;
        },
        &patch);
    if (patch.size() > max_diff)
        patch = cut_utf8(std::move(patch), max_diff - 32) + "\n[diff truncated at 64 KiB]\n";
    return {s.empty() ? "No file changes" : s, patch};
}

nlohmann::json to_json(const record& r) {
    return {{"cid", r.cid},
            {"commit", r.commit},
            {"changeSummary", r.change_summary},
            {"contentDiff", r.content_diff},
            {"createdAt", r.created_at},
            {"pinned", r.pinned}};
}

} // namespace

service::service(git::workspace& ws, const std::string& state_dir, int cid_version,
                 std::optional<std::string> ipfs_api)
    : ws_(ws)
    , dir_(state_dir + "/snapshots")
    , version_(cid_version)
    , blocks_(state_dir + "/blocks")
    , cache_((fs_util::make_directories(state_dir + "/snapshots", 0700),
              state_dir + "/snapshots/nodes-v" + std::to_string(cid_version))) {
    if (ipfs_api)
        ipfs_ = std::make_unique<ipfs_client>(*ipfs_api);
}

service::~service() = default;

std::size_t service::pins_pending() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : records_)
        n += r.pinned ? 0 : 1;
    return ipfs_ ? n : 0;
}

std::optional<std::string> service::last_pin_error() const {
    std::lock_guard lock(mutex_);
    return pin_error_;
}

std::optional<std::string> service::pin_pending() {
    if (!ipfs_)
        return std::nullopt;
    std::lock_guard pinning(pin_mutex_);
    std::vector<std::string> todo;
    {
        std::lock_guard lock(mutex_);
        for (const auto& r : records_)
            if (!r.pinned && std::find(todo.begin(), todo.end(), r.cid) == todo.end())
                todo.push_back(r.cid);
    }
    for (const auto& text : todo) {
        auto root = cid::parse(text);
        if (!root)
            continue;
        try {
            ipfs_->import_car(
                [&](const std::function<bool(std::string_view)>& emit) { write_car(*root, emit); });
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex_);
            pin_error_ = e.what();
            return pin_error_;
        }
        {
            std::lock_guard lock(mutex_);
            for (auto& r : records_)
                if (r.cid == text)
                    r.pinned = true;
            pin_error_.reset();
        }
        save();
        log::info("snapshot {} pinned on {}", text, ipfs_->url());
    }
    return std::nullopt;
}

std::chrono::seconds service::pin_retry_delay(unsigned failures) {
    return std::min(std::chrono::seconds(1u << std::min(failures, 6u)), std::chrono::seconds(60));
}

void service::load() {
    std::string text = fs_util::read_file(dir_ + "/index.json").value_or("");
    if (!text.empty()) {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_object() && j["snapshots"].is_array()) {
            for (const auto& s : j["snapshots"]) {
                record r;
                r.cid = s.value("cid", "");
                r.commit = s.value("commit", "");
                r.change_summary = s.value("changeSummary", "");
                r.content_diff = s.value("contentDiff", "");
                r.created_at = s.value("createdAt", "");
                r.pinned = s.value("pinned", false);
                if (!r.cid.empty())
                    records_.push_back(std::move(r));
            }
            if (j["lastSync"].is_string())
                last_sync_ = j["lastSync"].get<std::string>();
        } else {
            log::warn("snapshots: {}/index.json is unreadable; starting a new list", dir_);
        }
    }
    // A reset that a crash interrupted: finish it, so the workspace is the target, not a mix.
    std::string pending = fs_util::read_file(dir_ + "/reset-pending").value_or("");
    if (!pending.empty()) {
        std::istringstream f(pending);
        std::string commit, cid_text;
        f >> commit >> cid_text;
        auto lock = ws_.hold_outside_requests();
        auto repo = ws_.open();
        log::warn("snapshots: finishing the reset to {} that was interrupted", cid_text);
        try {
            finish_reset(repo.get(), commit, cid_text);
        } catch (const std::exception& e) {
            // A marker that cannot be acted on (damaged, or naming a commit that is gone) must not keep the
            // daemon from starting; it is set aside for a person to look at.
            log::error("snapshots: cannot finish the interrupted reset ({}); kept as reset-pending.failed",
                       e.what());
            ::rename((dir_ + "/reset-pending").c_str(), (dir_ + "/reset-pending.failed").c_str());
        }
    }
}

std::vector<record> service::latest(std::size_t n) const {
    std::lock_guard lock(mutex_);
    std::vector<record> out;
    for (auto it = records_.rbegin(); it != records_.rend() && out.size() < n; ++it)
        out.push_back(*it);
    return out;
}

std::optional<record> service::find(const std::string& cid_text) const {
    std::lock_guard lock(mutex_);
    // The newest record of that CID.
    auto it =
        std::find_if(records_.rbegin(), records_.rend(), [&](const record& r) { return r.cid == cid_text; });
    if (it != records_.rend())
        return *it;
    return std::nullopt;
}

std::optional<std::string> service::last_sync() const {
    std::lock_guard lock(mutex_);
    return last_sync_;
}

// The records are copied under mutex_ and written (with its fsync) outside it: readers on the I/O thread
// never wait for the disk. A writer that finds a newer state already written leaves it.
void service::save() {
    std::string text;
    std::uint64_t seq;
    {
        std::lock_guard lock(mutex_);
        nlohmann::json list = nlohmann::json::array();
        std::size_t start = records_.size() > kept ? records_.size() - kept : 0;
        for (std::size_t i = start; i < records_.size(); ++i)
            list.push_back(to_json(records_[i]));
        nlohmann::json j{{"version", 1}, {"snapshots", list}};
        if (last_sync_)
            j["lastSync"] = *last_sync_;
        text = j.dump();
        seq = ++save_seq_;
    }
    std::lock_guard saving(save_mutex_);
    if (seq < saved_seq_)
        return;
    fs_util::write_file_atomic(dir_ + "/index.json", text, 0600);
    saved_seq_ = seq;
}

service::sync_result service::sync(const git::workspace::turn& held, const char* why) {
    auto lock = held.hold();
    auto repo = ws_.open();
    return sync_locked(repo.get(), why);
}

service::sync_result service::sync_locked(git_repository* repo, const char* why) {
    if (why)
        ws_.commit_pending(repo, std::string(why) + "\n");
    sync_result result;
    const auto now = time_format::iso8601_ms_now();
    git_oid head;
    if (git_reference_name_to_id(&head, repo, "HEAD") != 0) { // an empty repository: nothing to record
        std::lock_guard lock(mutex_);
        last_sync_ = now;
        return result;
    }
    const std::string head_hex = git::to_hex(head);
    std::string previous;
    {
        std::unique_lock lock(mutex_);
        if (!records_.empty())
            previous = records_.back().commit;
        if (previous == head_hex) {
            last_sync_ = now;
            result.latest = records_.back();
            lock.unlock();
            save();
            return result;
        }
    }
    git_commit* commit = nullptr;
    git::check(git_commit_lookup(&commit, repo, &head), "read HEAD");
    git::commit_ptr owned(commit);
    unixfs_builder builder(version_, blocks_);
    import_stats stats;
    auto t0 = std::chrono::steady_clock::now();
    import_blobs(repo, *git_commit_tree_id(commit), ws_.dir(), version_, blocks_, cache_, stats,
                 [this] { return ws_.open(); });
    node root = import_tree(repo, *git_commit_tree_id(commit), builder, cache_, stats);
    auto t1 = std::chrono::steady_clock::now();
    // Blocks, then the node cache, then the record: a crash before the record leaves blocks no record names.
    blocks_.sync();
    auto t2 = std::chrono::steady_clock::now();
    cache_.flush();
    record r;
    r.cid = root.id.to_string();
    r.commit = head_hex;
    std::tie(r.change_summary, r.content_diff) = describe_change(repo, previous, head);
    r.created_at = now;
    auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
    log::info("snapshot {} of {}: {} files read ({} bytes), {} reused; DAG {} ms, sync {} ms", r.cid,
              head_hex.substr(0, 12), stats.files_read, stats.bytes_read, stats.reused, ms(t1 - t0),
              ms(t2 - t1));
    {
        std::lock_guard lock(mutex_);
        records_.push_back(r);
        last_sync_ = now;
    }
    save();
    result.created = true;
    result.latest = std::move(r);
    return result;
}

void service::finish_reset(git_repository* repo, const std::string& commit_hex, const std::string& cid_text) {
    git_oid target_id;
    if (!git::parse_oid(commit_hex, target_id))
        throw git::error("bad reset marker");
    git_commit* raw = nullptr;
    git::check(git_commit_lookup(&raw, repo, &target_id), "read the snapshot's commit");
    git::commit_ptr target(raw);
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    // Tracked files become the target's; untracked and ignored files stay (pending work was committed first).
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    git::check(git_checkout_tree(repo, reinterpret_cast<git_object*>(raw), &co), "check out the snapshot");
    git_oid head;
    git::commit_ptr parent;
    if (git_reference_name_to_id(&head, repo, "HEAD") == 0) {
        git_commit* p = nullptr;
        git::check(git_commit_lookup(&p, repo, &head), "read HEAD");
        parent.reset(p);
    }
    if (!parent || !git_oid_equal(git_commit_tree_id(parent.get()), git_commit_tree_id(raw))) {
        git_tree* tree = nullptr;
        git::check(git_commit_tree(&tree, raw), "read the snapshot's tree");
        git::tree_ptr owned_tree(tree);
        auto sig = git::daemon_signature();
        const git_commit* parents[1] = {parent.get()};
        git_oid out;
        std::string msg = "Reset to snapshot " + cid_text + " (" + commit_hex.substr(0, 12) + ")\n";
        git::check(git_commit_create(&out, repo, "HEAD", sig.get(), sig.get(), nullptr, msg.c_str(), tree,
                                     parent ? 1 : 0, parents),
                   "commit the reset");
    }
    ::unlink((dir_ + "/reset-pending").c_str());
}

std::optional<record> service::fetch_from_ipfs(const git::workspace::turn& held, const cid& target) {
    // Everything is checked before anything is written: every block's hash, and that the DAG is complete.
    std::string car = ipfs_->export_car(target.to_string());
    block_map blocks;
    try {
        blocks = read_car(car);
        car.clear();
        check_complete(blocks, target);
    } catch (const std::runtime_error& e) {
        throw ipfs_error("the IPFS node sent a damaged snapshot: " + std::string(e.what()),
                         ipfs_error::kind_t::damaged);
    }
    for (const auto& [key, block] : blocks)
        blocks_.put(*cid::from_binary(key), block);
    blocks_.sync();
    auto lock = held.hold();
    auto repo = ws_.open();
    git_oid tree_id = write_git_tree(repo.get(), blocks, target);
    git_tree* tree = nullptr;
    git::check(git_tree_lookup(&tree, repo.get(), &tree_id), "read the restored tree");
    git::tree_ptr owned(tree);
    auto sig = git::daemon_signature();
    git_oid commit;
    std::string msg = "Snapshot " + target.to_string() + " restored from IPFS\n";
    git::check(git_commit_create(&commit, repo.get(), nullptr, sig.get(), sig.get(), nullptr, msg.c_str(),
                                 tree, 0, nullptr),
               "commit the restored tree");
    record r;
    r.cid = target.to_string();
    r.commit = git::to_hex(commit);
    r.change_summary = "Restored from IPFS";
    r.created_at = time_format::iso8601_ms_now();
    r.pinned = true;
    log::info("snapshot {} fetched from {} ({} blocks)", r.cid, ipfs_->url(), blocks.size());
    {
        std::lock_guard records(mutex_);
        records_.push_back(r);
    }
    save();
    return r;
}

std::optional<service::reset_result> service::reset(const git::workspace::turn& held, const cid& target) {
    auto rec = find(target.to_string());
    if (!rec && ipfs_)
        rec = fetch_from_ipfs(held, target);
    if (!rec)
        return std::nullopt;
    auto lock = held.hold();
    auto repo = ws_.open();
    sync_locked(repo.get(), "Snapshot before a reset"); // nothing pending is lost
    fs_util::write_file_atomic(dir_ + "/reset-pending", rec->commit + " " + rec->cid + "\n", 0600);
    finish_reset(repo.get(), rec->commit, rec->cid);
    reset_result out;
    out.target = *rec;
    git_oid head;
    git::check(git_reference_name_to_id(&head, repo.get(), "HEAD"), "read HEAD");
    out.commit = git::to_hex(head);
    // The reset is a snapshot of its own: the target's tree (so its CID) at the new commit. Nothing is
    // committed first: files the target no longer ignores are the agent's to keep or drop.
    sync_locked(repo.get(), nullptr);
    return out;
}

bool service::write_car(const cid& root, const std::function<bool(std::string_view)>& out) {
    if (!find(root.to_string()))
        return false;
    // Header: dag-cbor {"roots":[CID(root)],"version":1}; keys in length-first order.
    std::string header;
    header += '\xa2';
    header += static_cast<char>(0x65); // text(5)
    header += "roots";
    header += '\x81';
    header += "\xd8\x2a"; // tag 42
    std::string cid_bytes = std::string(1, '\0') + root.binary();
    header += static_cast<char>(0x58);
    header += static_cast<char>(cid_bytes.size());
    header += cid_bytes;
    header += static_cast<char>(0x67); // text(7)
    header += "version";
    header += '\x01';
    std::string prefix;
    append_varint(prefix, header.size());
    if (!out(prefix + header))
        return true;
    // Depth first, each block once. A file's blocks are not in the store (block_store::put_file_block): they
    // are made again from the file's git blob, one file at a time, and checked against the CID on the way.
    std::unordered_set<std::string> seen;
    git::repository_ptr repo;
    struct memory_sink final : block_sink {
        std::unordered_map<std::string, std::string> blocks;
        void put(const cid& id, std::string_view block) override { blocks.emplace(id.binary(), block); }
    };
    bool stopped = false;
    std::function<void(const cid&, const memory_sink*)> visit = [&](const cid& c, const memory_sink* file) {
        if (stopped || !seen.insert(c.binary()).second)
            return;
        std::optional<std::string> block;
        if (file) {
            auto it = file->blocks.find(c.binary());
            if (it != file->blocks.end())
                block = it->second;
        }
        if (!block)
            block = blocks_.get(c);
        if (!block) {
            auto blob_id = cache_.blob_of(c);
            if (!blob_id)
                throw std::runtime_error("block " + c.to_string() + " is missing from the store");
            if (!repo)
                repo = ws_.open();
            git_blob* raw = nullptr;
            git::check(git_blob_lookup(&raw, repo.get(), &*blob_id), "read blob " + git::to_hex(*blob_id));
            git::blob_ptr blob(raw);
            memory_sink made;
            unixfs_builder builder(c.version, made);
            node n = builder.file(std::string_view(static_cast<const char*>(git_blob_rawcontent(raw)),
                                                   static_cast<std::size_t>(git_blob_rawsize(raw))));
            if (n.id != c)
                throw std::runtime_error("blob " + git::to_hex(*blob_id) + " no longer gives " +
                                         c.to_string());
            seen.erase(c.binary());
            visit(c, &made);
            return;
        }
        std::string section;
        append_varint(section, c.binary().size() + block->size());
        section += c.binary();
        section += *block;
        if (!out(section)) {
            stopped = true;
            return;
        }
        for (const auto& child : links_of(c, *block))
            visit(child, file);
    };
    visit(root, nullptr);
    return true;
}

} // namespace ag::snapshots
