// Snapshots (docs/api.md §12) through the API of the real binary: records that survive restarts, reset that
// loses nothing, automatic snapshots, serialised syncs, errors, and crashes in the middle of a reset. CIDs
// against an independent importer are checked in tests/snapshots/oracle.sh.
#include "support/engine_helpers.hpp"
#include "support/kill.hpp"
#include "support/shell.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

using test::gateway;
using test::put;
using test::sh;
using test::wait_until;

namespace {

nlohmann::json sync(const gateway& g) {
    auto r = g.request("POST", g.api("/snapshots/sync"), "", {{"Content-Type", "application/json"}});
    REQUIRE(r.status == 200);
    return r.json();
}

nlohmann::json reset(const gateway& g, const std::string& cid, int expect = 200) {
    auto r = g.post(g.api("/snapshots/reset"), {{"snapshotCid", cid}});
    REQUIRE(r.status == expect);
    return r.json();
}

std::string tree_of(const std::string& ws, const std::string& rev) {
    return sh("git -C " + ws + " rev-parse " + rev + "^{tree}");
}

} // namespace

TEST_CASE(
    "snapshots: sync records a commit and a CID; no changes gives the latest; the list survives restarts") {
    test::temp_dir root;
    put(root.path + "/workspace/notes.md", "# notes\n");
    put(root.path + "/workspace/runs/r1/out.log", "run output\n");
    std::string cid, commit, created;
    {
        gateway g({"--snapshot-interval", "0"}, root.path);
        auto status = g.get(g.api("/snapshots/sync")).json();
        CHECK(status["configured"] == true);
        CHECK(status["lastSync"].is_null());
        auto first = sync(g);
        CHECK(first["success"] == true);
        CHECK(first["message"] == "Snapshot created");
        cid = first["snapshotCid"].get<std::string>();
        commit = first["commitSha"].get<std::string>();
        CHECK(cid.starts_with("Qm"));
        CHECK(commit == sh("git -C " + g.workspace() + " rev-parse HEAD"));
        CHECK(sh("git -C " + g.workspace() + " ls-tree -r --name-only HEAD") == "notes.md"); // runs/ left out

        auto again = sync(g);
        CHECK(again["message"] == "No changes");
        CHECK(again["snapshotCid"] == cid);

        put(g.workspace() + "/notes.md", "# notes\nmore\n");
        auto second = sync(g);
        CHECK(second["message"] == "Snapshot created");
        CHECK(second["changeSummary"] == "1 file changed, 1 insertion(+)");

        auto list = g.get(g.api("/snapshots")).json();
        REQUIRE(list["snapshots"].size() == 2);
        CHECK(list["agentId"] == "local");
        auto newest = list["snapshots"][0];
        CHECK(newest["snapshotCid"] == second["snapshotCid"]);
        CHECK(newest["agentId"] == "local");
        CHECK(newest["contentDiff"].get<std::string>().find("+more") != std::string::npos);
        created = list["snapshots"][1]["createdAt"].get<std::string>();
        CHECK(created.ends_with("Z"));
        CHECK(g.get(g.api("/snapshots/sync")).json()["lastSync"].is_string());
    }
    gateway g({"--snapshot-interval", "0"}, root.path);
    auto list = g.get(g.api("/snapshots")).json();
    REQUIRE(list["snapshots"].size() == 2);
    CHECK(list["snapshots"][1]["snapshotCid"] == cid);
    CHECK(list["snapshots"][1]["commitSha"] == commit);
    CHECK(list["snapshots"][1]["createdAt"] == created);
}

TEST_CASE("snapshots: reset commits pending work first, then the tracked files are exactly the target's") {
    test::temp_dir root;
    const std::string ws = root.path + "/workspace";
    put(ws + "/keep.txt", "v1\n");
    put(ws + "/gone-later.txt", "here in A\n");
    put(ws + "/.gitignore", "*.log\n");
    gateway g({"--snapshot-interval", "0"}, root.path);
    auto a = sync(g);
    const std::string cid_a = a["snapshotCid"];

    put(ws + "/keep.txt", "v2\n");
    std::filesystem::remove(ws + "/gone-later.txt");
    put(ws + "/added.txt", "added in B\n");
    sync(g);
    put(ws + "/pending.txt", "not yet in any snapshot\n");
    put(ws + "/debug.log", "ignored, must stay\n");

    auto r = reset(g, cid_a);
    CHECK(r["success"] == true);
    CHECK(r["snapshotCid"] == cid_a);
    CHECK(r["commitSha"] == sh("git -C " + ws + " rev-parse HEAD"));
    CHECK(test::read_file(ws + "/keep.txt") == "v1\n");
    CHECK(test::read_file(ws + "/gone-later.txt") == "here in A\n");
    CHECK_FALSE(test::exists(ws + "/added.txt"));
    CHECK_FALSE(test::exists(ws + "/pending.txt"));
    CHECK(test::read_file(ws + "/debug.log") == "ignored, must stay\n");
    CHECK(tree_of(ws, "HEAD") == tree_of(ws, a["commitSha"]));
    CHECK(sh("git -C " + ws + " status --porcelain") == "");
    // The pending file was saved in a snapshot before the reset, so it can be brought back.
    auto list = g.get(g.api("/snapshots")).json()["snapshots"];
    REQUIRE(list.size() == 4);
    CHECK(list[0]["snapshotCid"] == cid_a); // the reset itself
    const std::string before = list[1]["commitSha"];
    CHECK(sh("git -C " + ws + " show " + before + ":pending.txt") == "not yet in any snapshot");
    reset(g, list[1]["snapshotCid"]);
    CHECK(test::read_file(ws + "/pending.txt") == "not yet in any snapshot\n");
}

TEST_CASE("snapshots: bad and unknown CIDs, CAR export") {
    test::temp_dir root;
    put(root.path + "/workspace/a.txt", "a\n");
    gateway g({"--snapshot-interval", "0"}, root.path);
    CHECK(g.post(g.api("/snapshots/reset"), nlohmann::json::object()).json()["error"] ==
          "Invalid snapshot CID");
    reset(g, "not-a-cid", 400);
    auto missing = reset(g, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", 404);
    CHECK(missing["error"] == "Snapshot not found");
    CHECK(g.request("POST", g.api("/snapshots/reset"), "{", {{"Content-Type", "application/json"}}).status ==
          400);
    CHECK(g.get(g.api("/snapshots/not-a-cid/car")).status == 400);
    CHECK(g.get(g.api("/snapshots/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o/car")).status == 404);

    const std::string cid = sync(g)["snapshotCid"];
    auto car = g.get(g.api("/snapshots/" + cid + "/car"));
    REQUIRE(car.status == 200);
    CHECK(car.header("content-type") == "application/vnd.ipld.car");
    // Header: varint length, then dag-cbor {"roots":[cid],"version":1}; then the root block first.
    CHECK(static_cast<unsigned char>(car.body[0]) == 0x38);
    CHECK(car.body.find("roots") == 3);
    CHECK(car.body.find("version") != std::string::npos);
    CHECK(car.body.size() > 0x39 + 34);
}

TEST_CASE("snapshots: a CAR whose block went missing ends as a failed transfer, not a short complete one") {
    test::temp_dir root;
    put(root.path + "/workspace/a.txt", "a\n");
    put(root.path + "/workspace/sub/deeper/b.txt", "b\n");
    gateway g({"--snapshot-interval", "0"}, root.path);
    const std::string cid = sync(g)["snapshotCid"];
    // Remove a directory block other than the root: the export fails after its first bytes went out.
    std::string removed;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root.path + "/.agent-gateway/blocks"))
        if (e.is_regular_file() && e.path().filename() != cid && removed.empty()) {
            removed = e.path().string();
            std::filesystem::remove(e.path());
        }
    REQUIRE(!removed.empty());
    const std::string url =
        "http://127.0.0.1:" + std::to_string(g.port()) + g.api("/snapshots/" + cid + "/car");
    auto rc = sh("curl -s -o /dev/null -H 'Authorization: Bearer " + std::string(gateway::token) + "' " +
                 url + "; echo $?");
    CHECK(rc != "0"); // curl sees the transfer fail (no terminating chunk, a reset)
    CHECK(g.log().find("streamed response failed") != std::string::npos);
    CHECK(g.get("/healthz").status == 200);
}

TEST_CASE("snapshots: taken automatically when the workspace changed; concurrent syncs are serialised") {
    test::temp_dir root;
    put(root.path + "/workspace/a.txt", "a\n");
    gateway g({"--snapshot-interval", "1"}, root.path);
    auto count = [&] { return g.get(g.api("/snapshots")).json()["snapshots"].size(); };
    REQUIRE(wait_until([&] { return count() == 1; }, std::chrono::seconds(5)));
    // Two more automatic passes (each sets lastSync, changes or not) find nothing changed: nothing new.
    auto last_sync = [&] { return g.get(g.api("/snapshots/sync")).json()["lastSync"].dump(); };
    for (int pass = 0; pass < 2; ++pass) {
        const auto before = last_sync();
        REQUIRE(wait_until([&] { return last_sync() != before; }, std::chrono::seconds(5)));
    }
    CHECK(count() == 1);
    put(g.workspace() + "/b.txt", "b\n");
    REQUIRE(wait_until([&] { return count() == 2; }, std::chrono::seconds(5)));
    CHECK(g.get(g.api("/snapshots")).json()["snapshots"][0]["changeSummary"] ==
          "1 file changed, 1 insertion(+)");

    put(g.workspace() + "/c.txt", "c\n");
    std::vector<std::thread> callers;
    std::vector<nlohmann::json> results(4);
    for (int i = 0; i < 4; ++i)
        callers.emplace_back([&, i] { results[i] = sync(g); });
    for (auto& t : callers)
        t.join();
    const auto cid = results[0]["snapshotCid"];
    for (const auto& r : results)
        CHECK(r["snapshotCid"] == cid); // one snapshot of c.txt, whoever took it
    CHECK(count() == 3);
}

TEST_CASE("snapshots: a reset killed at any point leaves the old tree or the new one, never a mix") {
    test::temp_dir root;
    const std::string ws = root.path + "/workspace";
    for (int i = 0; i < 300; ++i)
        put(ws + "/d" + std::to_string(i % 10) + "/f" + std::to_string(i) + ".txt",
            "A " + std::to_string(i) + "\n");
    std::string cid_a, tree_a, tree_b;
    long long reset_us = 0;
    {
        gateway g({"--snapshot-interval", "0"}, root.path);
        cid_a = sync(g)["snapshotCid"];
        tree_a = tree_of(ws, "HEAD");
        for (int i = 0; i < 300; ++i)
            put(ws + "/d" + std::to_string(i % 10) + "/f" + std::to_string(i) + ".txt",
                "B " + std::to_string(i) + "\n");
        for (int i = 0; i < 100; ++i)
            put(ws + "/new/n" + std::to_string(i) + ".txt", "B only\n");
        auto cid_b = sync(g)["snapshotCid"].get<std::string>();
        tree_b = tree_of(ws, "HEAD");
        // A reset's length here, both ways: the kills below fall within it.
        for (const auto& target : {cid_a, cid_b})
            reset_us = std::max(reset_us, test::microseconds_of([&] { reset(g, target); }));
    }
    std::mt19937 rng(42);
    int saw_old = 0, saw_new = 0, inside = 0;
    const std::string marker = root.path + "/.agent-gateway/snapshots/reset-pending";
    for (int round = 0; round < 8; ++round) {
        CAPTURE(round);
        {
            gateway g({"--snapshot-interval", "0"}, root.path);
            const std::string target =
                round % 2 == 0
                    ? cid_a
                    : g.get(g.api("/snapshots")).json()["snapshots"][1]["snapshotCid"].get<std::string>();
            // Within the first half: the answer takes the rest (the work tree is written last, by then).
            bool answered = test::kill_during(g, std::chrono::microseconds(rng() % (reset_us / 2 + 1)), [&] {
                if (g.post(g.api("/snapshots/reset"), {{"snapshotCid", target}}).status != 200)
                    throw std::runtime_error("no answer");
            });
            // Inside: the reset had begun (its marker is written first) and not finished (no answer).
            if (!answered && test::exists(marker))
                ++inside;
        }
        // The next start finishes an interrupted reset; the work tree then matches HEAD exactly.
        gateway g({"--snapshot-interval", "0"}, root.path);
        const std::string head = tree_of(ws, "HEAD");
        CHECK((head == tree_a || head == tree_b));
        CHECK(sh("git -C " + ws + " status --porcelain --untracked-files=all") == "");
        CHECK(sh("git -C " + ws + " fsck --no-dangling --no-progress && echo fsck-ok").ends_with("fsck-ok"));
        (head == tree_a ? saw_old : saw_new)++;
        CHECK(g.get(g.api("/snapshots")).status == 200);
    }
    MESSAGE("after the kills: " << saw_old << " times tree A, " << saw_new << " times tree B; " << inside
                                << " of 8 kills inside a reset of " << reset_us << " µs");
    // A test of kills that all missed would test nothing.
    CHECK(inside >= 1);
}

TEST_CASE("snapshots: lock files left by a killed writer do not block the next start") {
    test::temp_dir root;
    put(root.path + "/workspace/a.txt", "a\n");
    { gateway g({"--snapshot-interval", "0"}, root.path); }
    put(root.path + "/workspace/.git/index.lock", "");
    put(root.path + "/workspace/.git/refs/heads/main.lock", "");
    put(root.path + "/workspace/b.txt", "b\n");
    gateway g({"--snapshot-interval", "0"}, root.path);
    CHECK(sync(g)["message"] == "Snapshot created");
    CHECK_FALSE(test::exists(root.path + "/workspace/.git/index.lock"));
    CHECK(g.log().find("stale index.lock") != std::string::npos);
}

TEST_CASE("snapshots: a sync killed at any point leaves a consistent record, repository and block store") {
    test::temp_dir root;
    const std::string ws = root.path + "/workspace";
    std::mt19937 rng(7);
    int inside = 0;
    long long sync_us = 0;
    for (int round = 0; round < 8; ++round) {
        CAPTURE(round);
        for (int i = 0; i < 200; ++i)
            put(ws + "/d" + std::to_string(i % 8) + "/f" + std::to_string(i) + ".txt",
                std::string(1000 + (i * 37 + round * 11) % 3000, static_cast<char>('a' + (i + round) % 26)) +
                    "\n");
        {
            gateway g({"--snapshot-interval", "0"}, root.path);
            if (round == 0) {
                // The first round measures a sync of this size (and leaves its snapshot); later ones kill
                // within that span.
                sync_us = test::microseconds_of([&] { sync(g); });
                continue;
            }
            // Inside: the sync had begun (its first step writes the changed files as git objects) and had not
            // answered.
            auto objects = [&] { return sh("git -C " + ws + " count-objects"); };
            const std::string objects_before = objects();
            bool answered =
                test::kill_during(g, std::chrono::microseconds(rng() % (sync_us + 1)), [&] { sync(g); });
            if (!answered && objects() != objects_before)
                ++inside;
        }
        gateway g({"--snapshot-interval", "0"}, root.path);
        CHECK(sh("git -C " + ws + " fsck --no-dangling --no-progress && echo fsck-ok").ends_with("fsck-ok"));
        auto after = sync(g); // whatever the kill interrupted, the next sync completes it
        auto list = g.get(g.api("/snapshots")).json()["snapshots"];
        REQUIRE(!list.empty());
        CHECK(list[0]["snapshotCid"] == after["snapshotCid"]);
        CHECK(list[0]["commitSha"] == sh("git -C " + ws + " rev-parse HEAD"));
        CHECK(sh("git -C " + ws + " status --porcelain") == "");
        // Every block of the latest snapshot is there and matches its hash (the CAR export checks each one).
        auto car = g.get(g.api("/snapshots/" + after["snapshotCid"].get<std::string>() + "/car"));
        CHECK(car.status == 200);
        CHECK(car.body.size() > 200 * 1000);
    }
    MESSAGE(inside << " of 7 kills inside a sync of " << sync_us << " µs");
    CHECK(inside >= 2);
}

TEST_CASE("snapshots: a reset marker that cannot be acted on is set aside, not a reason to refuse to start") {
    test::temp_dir root;
    put(root.path + "/workspace/a.txt", "a\n");
    { gateway g({"--snapshot-interval", "0"}, root.path); }
    put(root.path + "/.agent-gateway/snapshots/reset-pending", "not-a-commit QmNothing\n");
    gateway g({"--snapshot-interval", "0"}, root.path);
    CHECK(sync(g)["success"] == true);
    CHECK(test::exists(root.path + "/.agent-gateway/snapshots/reset-pending.failed"));
    CHECK_FALSE(test::exists(root.path + "/.agent-gateway/snapshots/reset-pending"));
}
