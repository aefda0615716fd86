// files/watch (docs/api.md §19): inotify records to events, with records made by hand and by the kernel, and
// the bounded queue of one client.
#include "files/watch.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

using ag::files::change;
using ag::files::tree_watch;
using json = nlohmann::json;

namespace {

// One record as the kernel lays it out: the header, then the name padded with NULs.
std::string record(int wd, std::uint32_t mask, std::uint32_t cookie, std::string_view name) {
    inotify_event ev{};
    ev.wd = wd;
    ev.mask = mask;
    ev.cookie = cookie;
    ev.len = name.empty() ? 0 : static_cast<std::uint32_t>((name.size() + 1 + 15) / 16 * 16);
    std::string out(reinterpret_cast<const char*>(&ev), sizeof ev);
    out += name;
    out.resize(sizeof ev + ev.len, '\0');
    return out;
}

// A watch of /r (recursive) that believes /r is wd 1 and /r/sub wd 2, for records made by hand.
struct fake_tree : tree_watch {
    fake_tree()
        : tree_watch("/r", true) {
        ag::files::added_tree a;
        a.watches = {{1, "/r"}, {2, "/r/sub"}};
        adopt(a, false);
    }
};

std::vector<json> as_json(const ag::files::watch_batch& b) {
    std::vector<json> out;
    for (const auto& e : b.events)
        out.push_back(json::parse(ag::files::to_json(e)));
    return out;
}

// Everything the kernel has for `t` within 2 s of quiet-enough waiting: reads until a read finds nothing
// for 200 ms.
std::vector<json> drain(tree_watch& t) {
    std::vector<json> out;
    std::vector<char> buf(64 * 1024);
    for (;;) {
        pollfd p{t.fd(), POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) {
            if (t.move_pending()) {
                for (auto& j : as_json(t.flush()))
                    out.push_back(j);
                continue;
            }
            return out;
        }
        auto n = ::read(t.fd(), buf.data(), buf.size());
        REQUIRE(n > 0);
        auto batch = t.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        for (auto& j : as_json(batch))
            out.push_back(j);
        for (const auto& d : batch.new_dirs) {
            auto added = t.add(d, true);
            t.adopt(added, false);
            for (const auto& e : added.found)
                out.push_back(json::parse(ag::files::to_json(e)));
        }
    }
}

} // namespace

TEST_CASE("file watch: messages as the client reads them") {
    CHECK(ag::files::to_json({change::create, "/r/a", false, {}, {}}) ==
          R"({"isDir":false,"path":"/r/a","type":"create"})");
    CHECK(ag::files::to_json({change::move, "/r/b", true, "/r/a", {}}) ==
          R"({"from":"/r/a","isDir":true,"path":"/r/b","type":"move"})");
    CHECK(ag::files::to_json({change::remove, "/r/a", false, {}, {}}) ==
          R"({"isDir":false,"path":"/r/a","type":"delete"})");
    CHECK(ag::files::to_json({change::overflow, {}, false, {}, {}}) == R"({"type":"overflow"})");
    // A name that is not UTF-8 still makes valid JSON.
    auto odd = json::parse(ag::files::to_json({change::create, "/r/\xff", false, {}, {}}));
    CHECK(odd["path"] == "/r/\xEF\xBF\xBD");
}

TEST_CASE("file watch: records become events; a move's halves pair by cookie") {
    fake_tree t;
    auto b =
        t.feed(record(1, IN_CREATE, 0, "a") + record(1, IN_MODIFY, 0, "a") + record(1, IN_MODIFY, 0, "a") +
               record(2, IN_CREATE | IN_ISDIR, 0, "d") + record(1, IN_MOVED_FROM, 7, "a") +
               record(2, IN_MOVED_TO, 7, "b") + record(2, IN_DELETE, 0, "b"));
    auto j = as_json(b);
    REQUIRE(j.size() == 5);
    CHECK(j[0] == json{{"type", "create"}, {"path", "/r/a"}, {"isDir", false}});
    CHECK(j[1] == json{{"type", "modify"}, {"path", "/r/a"}, {"isDir", false}}); // two writes, one change
    CHECK(j[2] == json{{"type", "create"}, {"path", "/r/sub/d"}, {"isDir", true}});
    CHECK(j[3] == json{{"type", "move"}, {"path", "/r/sub/b"}, {"isDir", false}, {"from", "/r/a"}});
    CHECK(j[4] == json{{"type", "delete"}, {"path", "/r/sub/b"}, {"isDir", false}});
    REQUIRE(b.new_dirs.size() == 1);
    CHECK(b.new_dirs[0] == "/r/sub/d");
    CHECK(!t.move_pending());
}

TEST_CASE("file watch: a first half alone is a move out, in order with what follows") {
    fake_tree t;
    // Split across two reads: still one move.
    auto first = t.feed(record(1, IN_MOVED_FROM, 9, "a"));
    CHECK(first.events.empty());
    CHECK(t.move_pending());
    auto second = as_json(t.feed(record(1, IN_MOVED_TO, 9, "b")));
    REQUIRE(second.size() == 1);
    CHECK(second[0]["type"] == "move");

    // Followed by something else: a delete, before that something.
    t.feed(record(1, IN_MOVED_FROM, 10, "c"));
    auto next = as_json(t.feed(record(1, IN_CREATE, 0, "c")));
    REQUIRE(next.size() == 2);
    CHECK(next[0] == json{{"type", "delete"}, {"path", "/r/c"}, {"isDir", false}});
    CHECK(next[1]["type"] == "create");

    // Nothing follows: flush() gives up on it.
    t.feed(record(1, IN_MOVED_FROM, 11, "e"));
    auto flushed = as_json(t.flush());
    REQUIRE(flushed.size() == 1);
    CHECK(flushed[0]["type"] == "delete");
    CHECK(!t.move_pending());

    // A second half alone is a move in: a create (a directory's to be scanned).
    auto in = t.feed(record(1, IN_MOVED_TO | IN_ISDIR, 12, "tree"));
    REQUIRE(as_json(in).size() == 1);
    CHECK(as_json(in)[0] == json{{"type", "create"}, {"path", "/r/tree"}, {"isDir", true}});
    CHECK(in.new_dirs == std::vector<std::string>{"/r/tree"});
}

TEST_CASE("file watch: a directory's move renames its watches; overflow and the root's end are reported") {
    fake_tree t;
    t.feed(record(1, IN_MOVED_FROM | IN_ISDIR, 3, "sub") + record(1, IN_MOVED_TO | IN_ISDIR, 3, "moved"));
    auto inside = as_json(t.feed(record(2, IN_CREATE, 0, "f")));
    REQUIRE(inside.size() == 1);
    CHECK(inside[0]["path"] == "/r/moved/f");

    // A directory moved out: its watch is forgotten, later records for it are not reported.
    t.feed(record(1, IN_MOVED_FROM | IN_ISDIR, 4, "moved"));
    auto out = as_json(t.flush());
    REQUIRE(out.size() == 1);
    CHECK(out[0] == json{{"type", "delete"}, {"path", "/r/moved"}, {"isDir", true}});
    CHECK(t.feed(record(2, IN_CREATE, 0, "g")).events.empty());
    CHECK(t.watch_count() == 1);

    auto lost = t.feed(record(-1, IN_Q_OVERFLOW, 0, ""));
    CHECK(lost.overflowed);
    REQUIRE(as_json(lost).size() == 1);
    CHECK(as_json(lost)[0] == json{{"type", "overflow"}});

    auto gone = t.feed(record(1, IN_DELETE_SELF, 0, "") + record(1, IN_IGNORED, 0, ""));
    CHECK(gone.root_gone);
    REQUIRE(as_json(gone).size() == 1);
    CHECK(as_json(gone)[0] == json{{"type", "delete"}, {"path", "/r"}, {"isDir", true}});
}

TEST_CASE("file watch: the kernel's records for a real tree, new directories scanned") {
    test::temp_dir tmp;
    namespace fs = std::filesystem;
    fs::create_directories(tmp / "a/b");
    tree_watch t(tmp.path, true);
    CHECK((::fcntl(t.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    auto added = t.add(tmp.path, false);
    REQUIRE(added.error == 0);
    CHECK(added.watches.size() == 3);
    t.adopt(added, true);

    fs::create_directories(tmp / "n/m");
    { std::ofstream(tmp / "n/m/f") << "x"; }
    fs::rename(tmp / "a", tmp / "c");
    { std::ofstream(tmp / "c/b/g") << "x"; }
    auto got = drain(t);
    auto has = [&](const std::string& type, const std::string& rel) {
        for (const auto& j : got)
            if (j["type"] == type && j["path"] == tmp / rel)
                return true;
        return false;
    };
    CHECK(has("create", "n"));
    CHECK(has("create", "n/m"));
    CHECK(has("create", "n/m/f"));
    CHECK(has("move", "c"));
    CHECK(has("create", "c/b/g"));

    // A missing root, a file as root.
    tree_watch missing(tmp / "nope", true);
    CHECK(missing.add(tmp / "nope", false).error == ENOENT);
    { std::ofstream(tmp / "file") << "x"; }
    tree_watch file(tmp / "file", true);
    CHECK(file.add(tmp / "file", false).error == ENOTDIR);
}

TEST_CASE("file watch: a client's queue is bounded; past it one overflow stands for what was dropped") {
    ag::files::event_queue q(1000);
    const std::string m(100, 'x');
    for (int i = 0; i < 10; ++i)
        q.push(m);
    CHECK(q.bytes() == 1000);
    CHECK(q.overflows() == 0);
    q.push("last");
    CHECK(q.overflows() == 1);
    CHECK(q.pop() == R"({"type":"overflow"})");
    CHECK(q.pop() == "last");
    CHECK(q.empty());
    CHECK(q.bytes() == 0);
    // A stalled client never holds more than the bound, however much comes.
    for (int i = 0; i < 100000; ++i) {
        q.push(m);
        CHECK(q.bytes() <= 1000);
    }
    CHECK(q.overflows() > 1);
    // Two overflows in a row are one.
    ag::files::event_queue r(1000);
    r.push(R"({"type":"overflow"})");
    r.push(R"({"type":"overflow"})");
    r.pop();
    CHECK(r.empty());
}
