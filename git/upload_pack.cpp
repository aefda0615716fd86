#include "git/upload_pack.hpp"

#include "git/advertise.hpp"
#include "git/clone_cache.hpp"
#include "git/libgit2.hpp"
#include "git/object_set.hpp"
#include "git/pkt_line.hpp"
#include "git/workspace.hpp"

#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ag::git {

namespace {

constexpr int infinite_depth = 0x7fffffff; // what `git fetch --unshallow` sends

using oid_set = std::unordered_set<git_oid, oid_hash, oid_equal>;

struct fetch_request {
    std::vector<git_oid> wants;
    std::vector<git_oid> shallows; // the client's shallow roots
    int depth = 0;
    bool deepen_relative = false;
    int multi_ack = 0; // 0 none, 1 multi_ack, 2 multi_ack_detailed
    std::size_t sideband = 0;
    bool no_progress = false;
    std::vector<git_oid> haves;
    bool negotiation = false; // anything after the wants' flush
    bool done = false;
};

bool has_capability(std::string_view caps, std::string_view name) {
    while (!caps.empty()) {
        auto sp = caps.find(' ');
        std::string_view c = caps.substr(0, sp);
        if (c == name)
            return true;
        if (sp == std::string_view::npos)
            break;
        caps.remove_prefix(sp + 1);
    }
    return false;
}

fetch_request parse(std::string_view body) {
    fetch_request r;
    pkt_reader in(body);
    auto oid_after = [](std::string_view line, std::size_t prefix) {
        git_oid id;
        if (!parse_oid(line.substr(prefix, 40), id))
            throw error("protocol error: expected an object id in '" + std::string(line.substr(0, 60)) + "'");
        return id;
    };
    for (;;) {
        auto p = in.next();
        if (p.kind == pkt_reader::pkt::end)
            throw error("protocol error: the request ended before its flush");
        if (p.kind != pkt_reader::pkt::data)
            break;
        std::string_view line = p.payload;
        if (line.starts_with("want ")) {
            r.wants.push_back(oid_after(line, 5));
            if (r.wants.size() == 1 && line.size() > 45) {
                std::string_view caps = line.substr(46);
                r.multi_ack = has_capability(caps, "multi_ack_detailed") ? 2
                              : has_capability(caps, "multi_ack")        ? 1
                                                                         : 0;
                r.sideband = has_capability(caps, "side-band-64k") ? 65520
                             : has_capability(caps, "side-band")   ? 1000
                                                                   : 0;
                r.no_progress = has_capability(caps, "no-progress");
                r.deepen_relative = has_capability(caps, "deepen-relative");
            }
        } else if (line.starts_with("shallow ")) {
            r.shallows.push_back(oid_after(line, 8));
        } else if (line.starts_with("deepen ")) {
            std::string_view n = line.substr(7);
            long v = 0;
            for (char c : n) {
                if (c < '0' || c > '9' || v > infinite_depth / 10 + 1)
                    throw error("protocol error: invalid deepen: " + std::string(line));
                v = v * 10 + (c - '0');
            }
            if (v <= 0 || n.empty())
                throw error("protocol error: invalid deepen: " + std::string(line));
            r.depth = static_cast<int>(std::min<long>(v, infinite_depth));
        } else if (line.starts_with("deepen-since ") || line.starts_with("deepen-not ") ||
                   line.starts_with("filter ")) {
            throw error("'" + std::string(line.substr(0, line.find(' '))) +
                        "' is not supported by this server");
        } else {
            throw error("protocol error: unexpected '" + std::string(line.substr(0, 60)) + "'");
        }
    }
    for (;;) {
        auto p = in.next();
        if (p.kind == pkt_reader::pkt::end)
            break;
        r.negotiation = true;
        if (p.kind == pkt_reader::pkt::flush)
            break; // stateless: a round ends the response
        if (p.payload.starts_with("have "))
            r.haves.push_back(oid_after(p.payload, 5));
        else if (p.payload == "done") {
            r.done = true;
            break;
        } else
            throw error("protocol error: unexpected '" + std::string(p.payload.substr(0, 60)) + "'");
    }
    return r;
}

// Wants must be refs, or reachable from one (the refs may have moved since the client's advertisement).
std::string check_wants(git_repository* repo, const std::vector<git_oid>& wants) {
    oid_set tips;
    std::vector<git_oid> tip_commits;
    for (const auto& r : list_refs(repo)) {
        tips.insert(r.id);
        if (r.peeled)
            tips.insert(*r.peeled);
        git_oid c;
        if (peel_to_commit(repo, r.id, c))
            tip_commits.push_back(c);
    }
    for (const auto& w : wants) {
        if (tips.contains(w))
            continue;
        git_oid c;
        bool ok = false;
        git_odb* odb = nullptr;
        if (git_repository_odb(&odb, repo) == 0) {
            odb_ptr o(odb);
            git_object_t type;
            std::size_t len;
            if (git_odb_read_header(&len, &type, odb, &w) == 0 && type == GIT_OBJECT_COMMIT &&
                peel_to_commit(repo, w, c))
                ok = !tip_commits.empty() &&
                     git_graph_reachable_from_any(repo, &c, tip_commits.data(), tip_commits.size()) == 1;
        }
        if (!ok)
            return "upload-pack: not our ref " + to_hex(w);
    }
    return {};
}

std::vector<git_oid> parents_of(git_repository* repo, const git_oid& id) {
    std::vector<git_oid> out;
    git_commit* c = nullptr;
    check(git_commit_lookup(&c, repo, &id), "read commit " + to_hex(id));
    commit_ptr commit(c);
    for (unsigned i = 0; i < git_commit_parentcount(c); ++i)
        out.push_back(*git_commit_parent_id(c, i));
    return out;
}

struct shallow_plan {
    oid_set boundary;                 // commits whose parents are not sent (client's and new shallow roots)
    std::vector<git_oid> extra_wants; // parents of commits that stop being shallow
    oid_set unshallowed;              // client shallow roots that now get their parents (the client has them)
};

// The shallow-update section (upload-pack.c deepen()): shallow/unshallow lines, then a flush.
shallow_plan deepen(git_repository* repo, const fetch_request& r, const std::vector<git_oid>& want_commits,
                    std::string& section) {
    shallow_plan plan;
    oid_set client_shallow;
    for (const auto& s : r.shallows) {
        git_oid c;
        if (peel_to_commit(repo, s, c))
            client_shallow.insert(s);
    }
    oid_set not_shallow, new_shallow;
    if (r.depth == infinite_depth) {
        not_shallow = client_shallow;
    } else {
        std::vector<git_oid> heads;
        int limit = r.depth;
        if (r.deepen_relative) {
            heads.assign(client_shallow.begin(), client_shallow.end());
            limit = r.depth + 1;
        } else {
            heads = want_commits;
        }
        // Breadth first, so each commit is first seen at its smallest depth.
        std::unordered_map<git_oid, int, oid_hash, oid_equal> depth_of;
        std::deque<git_oid> queue;
        for (const auto& h : heads)
            if (depth_of.emplace(h, 1).second)
                queue.push_back(h);
        while (!queue.empty()) {
            git_oid c = queue.front();
            queue.pop_front();
            int d = depth_of[c];
            if (d >= limit) {
                new_shallow.insert(c);
                continue;
            }
            not_shallow.insert(c);
            for (const auto& p : parents_of(repo, c))
                if (depth_of.emplace(p, d + 1).second)
                    queue.push_back(p);
        }
    }
    for (const auto& c : new_shallow) {
        if (!client_shallow.contains(c) && !not_shallow.contains(c)) {
            append_pkt(section, "shallow " + to_hex(c) + "\n");
            plan.boundary.insert(c);
        }
    }
    for (const auto& c : client_shallow) {
        if (not_shallow.contains(c)) {
            append_pkt(section, "unshallow " + to_hex(c) + "\n");
            plan.unshallowed.insert(c);
            for (const auto& p : parents_of(repo, c))
                plan.extra_wants.push_back(p);
        }
        plan.boundary.insert(c); // the client's traversal stops there; its parents come as extra wants
    }
    section.append(flush_pkt);
    return plan;
}

// Objects for a fetch that involves shallow history: commits from the wants down to the boundary, minus what
// the client has; trees of the commits where the two meet are known to the client.
void select_shallow(git_repository* repo, object_set& objects, const std::vector<git_oid>& starts,
                    const shallow_plan& plan, const std::vector<git_oid>& common) {
    oid_set have;
    std::deque<git_oid> queue;
    for (const auto& c : common)
        if (have.insert(c).second)
            queue.push_back(c);
    for (const auto& c : plan.unshallowed)
        if (have.insert(c).second)
            queue.push_back(c);
    while (!queue.empty()) {
        git_oid c = queue.front();
        queue.pop_front();
        if (plan.boundary.contains(c))
            continue;
        for (const auto& p : parents_of(repo, c))
            if (have.insert(p).second)
                queue.push_back(p);
    }
    std::vector<git_oid> send;
    oid_set visited, edges;
    for (const auto& s : starts)
        if (!have.contains(s) && visited.insert(s).second)
            queue.push_back(s);
        else if (have.contains(s))
            edges.insert(s);
    while (!queue.empty()) {
        git_oid c = queue.front();
        queue.pop_front();
        send.push_back(c);
        if (plan.boundary.contains(c))
            continue;
        for (const auto& p : parents_of(repo, c)) {
            if (have.contains(p))
                edges.insert(p);
            else if (visited.insert(p).second)
                queue.push_back(p);
        }
    }
    for (const auto& e : edges) {
        git_commit* c = nullptr;
        if (git_commit_lookup(&c, repo, &e) == 0) {
            commit_ptr commit(c);
            objects.mark_known_tree(*git_commit_tree_id(c));
        }
    }
    for (const auto& c : send)
        objects.add_commit(c);
}

struct progress_state {
    pack_sink* sink = nullptr;
    std::chrono::steady_clock::time_point last{};
    int last_stage = -1;
};

int on_pack_progress(int stage, std::uint32_t current, std::uint32_t total, void* payload) {
    auto* st = static_cast<progress_state*>(payload);
    auto now = std::chrono::steady_clock::now();
    if (stage == st->last_stage && now - st->last < std::chrono::milliseconds(500) && current != total)
        return st->sink->keepalive() ? 0 : -1;
    st->last = now;
    st->last_stage = stage;
    std::string msg;
    if (stage == GIT_PACKBUILDER_ADDING_OBJECTS)
        msg = "Counting objects: " + std::to_string(current) + "\r";
    else
        msg = "Compressing objects: " + std::to_string(total ? current * 100ull / total : 100) + "% (" +
              std::to_string(current) + "/" + std::to_string(total) + ")" +
              (current == total ? ", done.\n" : "\r");
    bool ok = st->sink->progress(msg);
    st->sink->keepalive();
    return ok ? 0 : -1;
}

void send_pack(git_repository* repo, clone_cache* cache, const fetch_request& r,
               const std::vector<git_oid>& common, const shallow_plan* plan, pack_sink& sink) {
    std::vector<git_oid> want_commits;
    for (const auto& w : r.wants) {
        git_oid c;
        if (peel_to_commit(repo, w, c))
            want_commits.push_back(c);
    }
    if (!plan && common.empty() && r.shallows.empty() && cache && cache->serve(repo, r.wants, sink))
        return;

    git_packbuilder* raw_pb = nullptr;
    check(git_packbuilder_new(&raw_pb, repo), "packbuilder");
    packbuilder_ptr pb(raw_pb);
    git_packbuilder_set_threads(raw_pb, 0);
    progress_state progress{&sink};
    check(git_packbuilder_set_callbacks(raw_pb, on_pack_progress, &progress), "packbuilder callbacks");
    object_set objects(repo, raw_pb);
    for (const auto& w : r.wants)
        objects.add_tag_chain(w);

    if (plan || !r.shallows.empty()) {
        shallow_plan none;
        if (!plan) {
            for (const auto& s : r.shallows)
                none.boundary.insert(s);
            plan = &none;
        }
        std::vector<git_oid> starts = want_commits;
        starts.insert(starts.end(), plan->extra_wants.begin(), plan->extra_wants.end());
        std::vector<git_oid> common_commits;
        for (const auto& h : common) {
            git_oid c;
            if (peel_to_commit(repo, h, c))
                common_commits.push_back(c);
        }
        select_shallow(repo, objects, starts, *plan, common_commits);
    } else {
        git_revwalk* raw_walk = nullptr;
        check(git_revwalk_new(&raw_walk, repo), "revwalk");
        revwalk_ptr walk(raw_walk);
        for (const auto& c : want_commits)
            check(git_revwalk_push(raw_walk, &c), "walk");
        for (const auto& h : common) {
            git_oid c;
            if (peel_to_commit(repo, h, c))
                git_revwalk_hide(raw_walk, &c);
        }
        check(git_packbuilder_insert_walk(raw_pb, raw_walk), "pack history");
    }
    sink.progress("Enumerating objects: " + std::to_string(git_packbuilder_object_count(raw_pb)) +
                  ", done.\n");
    int rc = git_packbuilder_foreach(
        raw_pb,
        [](void* buf, std::size_t size, void* payload) -> int {
            return static_cast<pack_sink*>(payload)->data(buf, size) ? 0 : -1;
        },
        &sink);
    if (rc < 0 && sink.ok())
        check(rc, "write the pack");
    sink.progress("Total " + std::to_string(git_packbuilder_written(raw_pb)) + " (delta reuse: none)\n");
}

} // namespace

void upload_pack(workspace& ws, clone_cache* cache, std::string_view body, output& out) {
    std::string head; // negotiation lines, written before any pack byte
    fetch_request r;
    try {
        r = parse(body);
    } catch (const error& e) {
        append_pkt(head, std::string("ERR ") + e.what() + "\n");
        out.write(head);
        return;
    }
    auto repo = ws.open();
    if (r.wants.empty()) {
        out.write(head);
        return;
    }
    if (auto problem = check_wants(repo.get(), r.wants); !problem.empty()) {
        append_pkt(head, "ERR " + problem + "\n");
        out.write(head);
        return;
    }

    std::optional<shallow_plan> plan;
    if (r.depth > 0) {
        std::vector<git_oid> want_commits;
        for (const auto& w : r.wants) {
            git_oid c;
            if (peel_to_commit(repo.get(), w, c))
                want_commits.push_back(c);
        }
        plan = deepen(repo.get(), r, want_commits, head);
    }
    if (!r.negotiation) { // the first request of a shallow fetch asks for the shallow lines only
        out.write(head);
        return;
    }

    git_odb* raw_odb = nullptr;
    check(git_repository_odb(&raw_odb, repo.get()), "odb");
    odb_ptr odb(raw_odb);
    std::vector<git_oid> common;
    for (const auto& h : r.haves) {
        if (!git_odb_exists(raw_odb, &h))
            continue;
        common.push_back(h);
        if (r.multi_ack == 2)
            append_pkt(head, "ACK " + to_hex(h) + " common\n");
        else if (r.multi_ack == 1)
            append_pkt(head, "ACK " + to_hex(h) + " continue\n");
        else if (common.size() == 1)
            append_pkt(head, "ACK " + to_hex(h) + "\n");
    }
    if (!r.done) {
        if (common.empty() || r.multi_ack)
            append_pkt(head, "NAK\n");
        out.write(head);
        return;
    }
    if (!common.empty()) {
        if (r.multi_ack)
            append_pkt(head, "ACK " + to_hex(common.back()) + "\n");
    } else {
        append_pkt(head, "NAK\n");
    }
    if (!out.write(head))
        return;

    pack_sink sink(out, r.sideband, !r.no_progress);
    try {
        send_pack(repo.get(), cache, r, common, plan ? &*plan : nullptr, sink);
        sink.finish();
    } catch (const std::exception& e) {
        sink.fatal(std::string("upload-pack: ") + e.what());
    }
    repo.reset();
    release_memory();
}

} // namespace ag::git
