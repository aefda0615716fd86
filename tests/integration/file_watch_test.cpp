// docs/api.md §19: the file watch WebSocket against the real daemon, with a real WebSocket client and changes
// made by this process on the real file system.
#include "support/gateway.hpp"
#include "support/ws_client.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

using test::gateway;
using test::ws_client;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const test::header_list bearer{{"Authorization", std::string("Bearer ") + gateway::token}};

// One watch: the messages it read, and waits for the one a test expects (messages before it are kept in
// `seen`), each bounded by a deadline.
struct watch {
    std::unique_ptr<ws_client> c;
    std::vector<json> seen;

    watch(const gateway& g, const std::string& dir, bool recursive = true, int receive_buffer = 0) {
        std::string target = g.api("/files/watch?path=" + dir + (recursive ? "&recursive=true" : ""));
        c = std::make_unique<ws_client>(g.port(), target, bearer, receive_buffer);
    }

    std::optional<json> next_until(const std::function<bool(const json&)>& match,
                                   std::chrono::milliseconds wait = 10s) {
        auto end = std::chrono::steady_clock::now() + wait;
        for (;;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left <= 0ms)
                return std::nullopt;
            auto m = c->read(left);
            if (!m)
                return std::nullopt;
            auto j = json::parse(*m);
            seen.push_back(j);
            if (match(j))
                return j;
        }
    }
    // The next event of `type` for `path`.
    std::optional<json> expect(const std::string& type, const std::string& path,
                               std::chrono::milliseconds wait = 10s) {
        auto got =
            next_until([&](const json& j) { return j["type"] == type && j.value("path", "") == path; }, wait);
        if (!got) {
            std::string all;
            for (const auto& j : seen)
                all += j.dump() + "\n";
            MESSAGE("waited for " << type << " " << path << "; seen:\n"
                                  << all << "close " << c->close_code());
        }
        return got;
    }
    // Renames `from` to `to` and waits for the one move message that says so.
    void rename_expecting_move(const std::string& from, const std::string& to, bool is_dir) {
        fs::rename(from, to);
        auto moved = expect("move", to);
        REQUIRE(moved);
        CHECK((*moved)["from"] == from);
        CHECK((*moved)["isDir"] == is_dir);
    }
};

void make_dir(const std::string& path) {
    REQUIRE(::mkdir(path.c_str(), 0755) == 0);
}

// Creates an empty file without writing to it: one create event, no modify.
void touch_new(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    ::close(fd);
}

} // namespace

TEST_CASE("file watch: create, modify, delete and move of files and directories, named by absolute path") {
    gateway g;
    const std::string dir = g.workspace() + "/w";
    make_dir(dir);
    watch w(g, "workspace/w");

    touch_new(dir + "/a.txt");
    auto created = w.expect("create", dir + "/a.txt");
    REQUIRE(created);
    CHECK((*created)["isDir"] == false);
    CHECK(!created->contains("from"));

    test::write_file(dir + "/a.txt", "hello");
    REQUIRE(w.expect("modify", dir + "/a.txt"));

    w.rename_expecting_move(dir + "/a.txt", dir + "/b.txt", false);

    make_dir(dir + "/d");
    auto made = w.expect("create", dir + "/d");
    REQUIRE(made);
    CHECK((*made)["isDir"] == true);

    w.rename_expecting_move(dir + "/d", dir + "/e", true);
    // The renamed directory is still watched, under its new name.
    touch_new(dir + "/e/inside");
    REQUIRE(w.expect("create", dir + "/e/inside"));

    // A move inside a subdirectory: both halves come from one watch.
    w.rename_expecting_move(dir + "/e/inside", dir + "/e/renamed", false);

    // Across two watched directories: one move.
    w.rename_expecting_move(dir + "/e/renamed", dir + "/top", false);

    REQUIRE(::unlink((dir + "/b.txt").c_str()) == 0);
    auto removed = w.expect("delete", dir + "/b.txt");
    REQUIRE(removed);
    CHECK((*removed)["isDir"] == false);

    REQUIRE(::rmdir((dir + "/e").c_str()) == 0);
    auto removed_dir = w.expect("delete", dir + "/e");
    REQUIRE(removed_dir);
    CHECK((*removed_dir)["isDir"] == true);

    // chmod is a modification too (a listing shows the mode).
    REQUIRE(::chmod((dir + "/top").c_str(), 0600) == 0);
    REQUIRE(w.expect("modify", dir + "/top"));
}

TEST_CASE("file watch: a new subdirectory is watched, and what is made in it before its watch is reported") {
    gateway g;
    const std::string dir = g.workspace() + "/w";
    make_dir(dir);
    watch w(g, dir); // an absolute path works as well

    // Made as fast as this process can: some of it lands before the daemon watches the new directories, and
    // the daemon's scan of each new directory reports that.
    fs::create_directories(dir + "/x/y/z");
    touch_new(dir + "/x/y/z/f");
    touch_new(dir + "/x/g");
    for (const auto* p : {"/x", "/x/y", "/x/y/z", "/x/y/z/f", "/x/g"}) {
        bool found = false;
        for (const auto& j : w.seen)
            found = found || (j["type"] == "create" && j["path"] == dir + p);
        if (!found)
            REQUIRE(w.expect("create", dir + p));
    }
    // Now watched: a later file in the deepest one is reported by the kernel.
    touch_new(dir + "/x/y/z/later");
    REQUIRE(w.expect("create", dir + "/x/y/z/later"));

    // A directory tree moved within the watched tree is followed under its new name.
    w.rename_expecting_move(dir + "/x", dir + "/x2", true);
    touch_new(dir + "/x2/y/z/after-move");
    REQUIRE(w.expect("create", dir + "/x2/y/z/after-move"));
}

TEST_CASE("file watch: a move out of the tree is a delete, a move into it a create") {
    gateway g;
    const std::string dir = g.workspace() + "/w";
    const std::string outside = g.workspace() + "/outside";
    make_dir(dir);
    make_dir(outside);
    test::write_file(outside + "/in.txt", "x");
    make_dir(outside + "/tree");
    test::write_file(outside + "/tree/leaf", "x");
    test::write_file(dir + "/out.txt", "x");
    make_dir(dir + "/gone");
    watch w(g, dir);

    fs::rename(dir + "/out.txt", outside + "/out.txt");
    auto out = w.expect("delete", dir + "/out.txt");
    REQUIRE(out);
    CHECK((*out)["isDir"] == false);

    fs::rename(outside + "/in.txt", dir + "/in.txt");
    auto in = w.expect("create", dir + "/in.txt");
    REQUIRE(in);
    CHECK((*in)["isDir"] == false);

    // A directory moved in is a create, its content reported as a new directory's, and it is watched.
    fs::rename(outside + "/tree", dir + "/tree");
    auto tree = w.expect("create", dir + "/tree");
    REQUIRE(tree);
    CHECK((*tree)["isDir"] == true);
    REQUIRE(w.expect("create", dir + "/tree/leaf"));
    touch_new(dir + "/tree/new");
    REQUIRE(w.expect("create", dir + "/tree/new"));

    // A directory moved out is a delete, and what happens in it afterwards is no longer reported: the next
    // event is the sentinel made after it.
    fs::rename(dir + "/gone", outside + "/gone");
    auto gone = w.expect("delete", dir + "/gone");
    REQUIRE(gone);
    CHECK((*gone)["isDir"] == true);
    touch_new(outside + "/gone/unseen");
    touch_new(dir + "/sentinel");
    auto next = w.next_until([](const json&) { return true; });
    REQUIRE(next);
    CHECK((*next)["path"] == dir + "/sentinel");
}

TEST_CASE("file watch: without recursive only the directory itself is watched") {
    gateway g;
    const std::string dir = g.workspace() + "/w";
    make_dir(dir);
    make_dir(dir + "/sub");
    watch w(g, dir, false);
    touch_new(dir + "/sub/deep"); // not reported
    touch_new(dir + "/top");
    auto next = w.next_until([](const json&) { return true; });
    REQUIRE(next);
    CHECK((*next)["type"] == "create");
    CHECK((*next)["path"] == dir + "/top");
}

TEST_CASE("file watch: a client that stops reading gets an overflow, and the stream goes on") {
    gateway g;
    const std::string dir = g.workspace() + "/w";
    make_dir(dir);
    // A small receive buffer: the daemon's writes stall soon, and its queue for this client fills.
    watch w(g, dir, true, 4096);
    // 2 × 20,000 events of ~300 bytes: several times the daemon's 1 MiB bound and the socket buffers.
    const std::string stem = dir + "/" + std::string(200, 'n') + "-";
    for (int i = 0; i < 20000; ++i) {
        auto p = stem + std::to_string(i);
        touch_new(p);
        REQUIRE(::unlink(p.c_str()) == 0);
    }
    auto overflow = w.next_until([](const json& j) { return j["type"] == "overflow"; }, 60s);
    REQUIRE(overflow);
    CHECK(overflow->size() == 1);
    MESSAGE("an overflow after " << w.seen.size() << " messages");
    CHECK(w.seen.size() < 40000);
    // The stream goes on: a change after it is reported. The kernel's own queue may still be full (40,000
    // events are more than its max_queued_events) while a slow daemon (the sanitizer build) drains it, and a
    // change made then is dropped there and told as one more overflow; each overflow seen makes one more
    // change, until one is reported by name.
    int made = 0;
    auto make_one = [&] { touch_new(dir + "/after-" + std::to_string(made++)); };
    make_one();
    auto reported = w.next_until(
        [&](const json& j) {
            if (j["type"] == "overflow" && made < 30)
                make_one();
            return j["type"] == "create" && j.value("path", "").starts_with(dir + "/after-");
        },
        60s);
    CHECK_MESSAGE(reported, made << " changes made after the overflow, " << w.seen.size() << " messages");
}

TEST_CASE("file watch: past the kernel's watch limit: an error message, and 403 at the start") {
    // The limit is set in a user namespace of the daemon's own (user.max_inotify_watches), not for the host.
    if (std::system("unshare -U -r sh -c 'echo 4 > /proc/sys/user/max_inotify_watches' 2>/dev/null") != 0) {
        MESSAGE("skipped: no user namespace with a limit of its own here");
        return;
    }
    gateway g({}, {},
              {"unshare", "-U", "-r", "sh", "-c",
               "echo 4 > /proc/sys/user/max_inotify_watches && exec \"$@\"", "sh"});
    const std::string small = g.workspace() + "/small";
    make_dir(small);
    watch w(g, small);
    // Directories one at a time until one cannot be watched (the daemon holds a watch or two of its own): a
    // watched one reports the file made in it, the first one past the limit an error.
    std::optional<json> refused;
    for (int i = 0; i < 8 && !refused; ++i) {
        const std::string d = small + "/" + std::to_string(i);
        make_dir(d);
        touch_new(d + "/f");
        auto got = w.next_until([&](const json& j) {
            return (j["type"] == "error" && j["path"] == d) ||
                   (j["type"] == "create" && j["path"] == d + "/f");
        });
        REQUIRE(got);
        if ((*got)["type"] == "error")
            refused = got;
    }
    REQUIRE(refused);
    CHECK((*refused)["message"].get<std::string>().find("user.max_inotify_watches = 4") != std::string::npos);
    touch_new(small + "/after");
    REQUIRE(w.expect("create", small + "/after"));

    // A tree that needs more watches than are left is refused before the upgrade.
    make_dir(g.workspace() + "/big");
    make_dir(g.workspace() + "/big/1");
    CHECK(test::ws_upgrade_status(g.port(), g.api("/files/watch?path=workspace/big&recursive=true"),
                                  bearer) == 403);
    CHECK(g.log().find("the kernel's limit of inotify watches is reached") != std::string::npos);
}

TEST_CASE("file watch: the watched directory removed ends the stream with 1000") {
    gateway g;
    const std::string dir = g.workspace() + "/w";
    make_dir(dir);
    watch w(g, dir);
    REQUIRE(::rmdir(dir.c_str()) == 0);
    auto gone = w.expect("delete", dir);
    REQUIRE(gone);
    CHECK((*gone)["isDir"] == true);
    CHECK(!w.c->read(10s));
    CHECK(w.c->close_code() == 1000);
}

TEST_CASE("file watch: a rotated token closes the stream with 1008, a daemon stop with 1001") {
    test::temp_dir root;
    std::string token_file = root.path + "/token";
    test::write_file(token_file, "first-token\n");
    gateway g({"--token-file", token_file}, root.path);
    make_dir(g.workspace() + "/w");
    ws_client old_stream(g.port(), g.api("/files/watch?path=workspace/w&token=first-token"));
    test::write_file(token_file + ".new", "second-token\n");
    std::rename((token_file + ".new").c_str(), token_file.c_str());
    while (old_stream.read(5s)) {
    }
    CHECK(old_stream.close_code() == 1008);

    ws_client fresh(g.port(), g.api("/files/watch?path=workspace/w&token=second-token"));
    std::thread stopper([&] { g.stop(); });
    while (fresh.read(5s)) {
    }
    stopper.join();
    CHECK(fresh.close_code() == 1001);
}

TEST_CASE("file watch: refused before the upgrade as the other file routes refuse") {
    gateway g;
    test::write_file(g.workspace() + "/file.txt", "x");
    make_dir(g.workspace() + "/w");
    auto status = [&](const std::string& query, const test::header_list& h = bearer) {
        return test::ws_upgrade_status(g.port(), g.api("/files/watch" + query), h);
    };
    CHECK(status("?path=workspace/w") == 101);
    CHECK(status("?path=workspace/w", {}) == 401);
    CHECK(status("?path=workspace/w&token=wrong", {}) == 401);
    CHECK(status("?path=workspace/file.txt") == 400);
    CHECK(status("?path=workspace/missing") == 404);
    CHECK(status("") == 400);
    CHECK(status("?path=") == 400);
    CHECK(status("?path=workspace/w&recursive=maybe") == 400);
    // The refusal is the JSON error of every file route.
    auto answer = g.raw("GET " + g.api("/files/watch?path=workspace/file.txt") +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Authorization: Bearer " +
                        gateway::token + "\r\n\r\n");
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(answer.find(R"({"error":"Not a directory"})") != std::string::npos);
}
