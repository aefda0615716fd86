// engine/child_ledger.hpp: which process groups an earlier daemon left running, and never somebody else's.
#include "engine/child_ledger.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

using ag::engine::leftover_groups;
using ag::engine::proc_entry;

namespace {

const std::string boot = "7d1c0a44-0d2c-4f7e-9a57-3f1b1f2e9a10";
// Written by daemon 100 (started at tick 5000) in session 90.
const std::string header = "agent-gateway children 1 " + boot + " 100 5000\n";

proc_entry proc(pid_t pid, pid_t pgid, pid_t sid, std::uint64_t start, bool zombie = false) {
    return {pid, pgid, sid, start, zombie};
}

} // namespace

TEST_CASE("child ledger: the groups it names that still run are leftovers") {
    const std::string ledger = header + "200 90 6000 6002\n"  // a process: its leader and a child of it
                                        "300 300 7000 7001\n" // a terminal: a session of its own
                                        "400 90 8000 8001\n"; // ended long ago
    std::vector<proc_entry> procs{proc(1, 1, 1, 0), proc(200, 200, 90, 6001), proc(201, 200, 90, 6500),
                                  proc(300, 300, 300, 7000), proc(55, 55, 55, 10)};
    auto got = leftover_groups(ledger, boot, procs);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<pid_t>{200, 300});
}

TEST_CASE("child ledger: an id given to somebody else since is never killed") {
    SUBCASE("a new leader with the same id started later") {
        std::vector<proc_entry> procs{proc(200, 200, 90, 9000)};
        CHECK(leftover_groups(header + "200 90 6000 6002\n", boot, procs).empty());
    }
    SUBCASE("the same id in another session") {
        std::vector<proc_entry> procs{proc(200, 200, 77, 6001)};
        CHECK(leftover_groups(header + "200 90 6000 6002\n", boot, procs).empty());
    }
    SUBCASE("another boot") {
        std::vector<proc_entry> procs{proc(200, 200, 90, 6001)};
        CHECK(leftover_groups(header + "200 90 6000 6002\n", "another-boot", procs).empty());
    }
    SUBCASE("the daemon that wrote it still runs: its children are its own") {
        std::vector<proc_entry> procs{proc(100, 100, 90, 5000), proc(200, 200, 90, 6001)};
        CHECK(leftover_groups(header + "200 90 6000 6002\n", boot, procs).empty());
    }
}

TEST_CASE("child ledger: a group whose leader went is still ours; zombies are not worth a kill") {
    // The leader exited and was reaped by init: the kernel keeps the group's id for its members, so the id
    // cannot belong to anybody else.
    std::vector<proc_entry> procs{proc(201, 200, 90, 6500)};
    CHECK(leftover_groups(header + "200 90 6000 6002\n", boot, procs) == std::vector<pid_t>{200});
    // A member older than the group is not one of ours.
    CHECK(leftover_groups(header + "200 90 6000 6002\n", boot, {proc(201, 200, 90, 10)}).empty());
    // Only zombies left: nothing holds a port or a file any more.
    CHECK(leftover_groups(header + "200 90 6000 6002\n", boot, {proc(200, 200, 90, 6001, true)}).empty());
}

TEST_CASE("child ledger: a terminal's session answers for the jobs its shell put into groups of their own") {
    // Terminal 300 leads session 300; its shell ran job 310 (group 310) and job 320 (group 320). A process
    // of the daemon's own session 90 in another group is somebody else's.
    const std::string ledger = header + "300 300 7000 7001\n";
    std::vector<proc_entry> procs{proc(300, 300, 300, 7000), proc(310, 310, 300, 7100),
                                  proc(311, 310, 300, 7200), proc(320, 320, 300, 7300, true),
                                  proc(321, 320, 300, 7301), proc(330, 330, 90, 7400)};
    auto got = leftover_groups(ledger, boot, procs);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<pid_t>{300, 310, 320});
    SUBCASE("the shell went: the jobs that started after it are still ours") {
        std::vector<proc_entry> orphans{proc(310, 310, 300, 7100), proc(340, 340, 300, 10)};
        CHECK(leftover_groups(ledger, boot, orphans) == std::vector<pid_t>{310});
    }
    SUBCASE("a leader with the same id started later: none of its session is ours") {
        std::vector<proc_entry> other{proc(300, 300, 300, 9000), proc(310, 310, 300, 9100)};
        CHECK(leftover_groups(ledger, boot, other).empty());
    }
    SUBCASE("a process's line answers for its group alone, never for the daemon's session") {
        std::vector<proc_entry> same_session{proc(200, 200, 90, 6001), proc(330, 330, 90, 7400)};
        CHECK(leftover_groups(header + "200 90 6000 6002\n", boot, same_session) == std::vector<pid_t>{200});
    }
}

TEST_CASE("child ledger: a cut or garbled ledger is read as far as it goes") {
    std::vector<proc_entry> procs{proc(200, 200, 90, 6001), proc(300, 300, 90, 7000)};
    CHECK(leftover_groups("", boot, procs).empty());
    CHECK(leftover_groups("garbage\n200 90 6000 6002\n", boot, procs).empty());
    CHECK(leftover_groups(header + "200 90 6000 6002\n300 90 70", boot, procs) == std::vector<pid_t>{200});
    CHECK(leftover_groups(header + "1 1 0 9\n0 0 0 0\nx y z w\n", boot, {proc(1, 1, 1, 0)}).empty());
}

TEST_CASE("child ledger: the window around a spawn holds the start the kernel gives the child") {
    // The ledger writes [before - 1, after + 1] in clock ticks since boot; /proc/PID/stat's starttime of a
    // real child must fall inside, or a restart would leave the child running.
    const std::uint64_t before = ag::engine::ticks_since_boot();
    pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    REQUIRE(child > 0);
    const std::uint64_t after = ag::engine::ticks_since_boot();
    auto procs = ag::engine::read_proc();
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    auto it = std::find_if(procs.begin(), procs.end(), [&](const proc_entry& p) { return p.pid == child; });
    REQUIRE(it != procs.end());
    CHECK(it->start + 1 >= before);
    CHECK(it->start <= after + 1);
    CHECK(it->sid == ::getsid(0));
}

TEST_CASE("child ledger: a line per running group; back to the header when none runs") {
    test::temp_dir dir;
    const std::string path = dir.path + "/children";
    auto read = [&] {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    {
        ag::engine::child_ledger ledger(path);
        const std::string head = read();
        CHECK(head.starts_with("agent-gateway children 1 "));
        CHECK(head.find(" " + std::to_string(::getpid()) + " ") != std::string::npos);
        ledger.started(200, 90, 6000, 6001);
        ledger.started(300, 300, 7000, 7001);
        CHECK(read() == head + "200 90 5999 6002\n300 300 6999 7002\n");
        ledger.ended(200);
        CHECK(read() == head + "200 90 5999 6002\n300 300 6999 7002\n"); // kept until none runs
        ledger.ended(300);
        CHECK(read() == head);
        // One group runs all along while thousands come and go: past 64 KiB the file is rewritten from the
        // running ones.
        ledger.started(200, 90, 6000, 6001);
        for (pid_t i = 1000; i < 11000; ++i) {
            ledger.started(i, 90, 6000, 6001);
            ledger.ended(i);
        }
        const std::string after = read();
        CHECK(after.size() < 64 * 1024);
        CHECK(after.starts_with(head));
        CHECK(after.find("\n200 90 5999 6002\n") != std::string::npos);
    }
    // The next ledger on the same file (this process still runs: it wrote it) kills nothing.
    ag::engine::child_ledger next(path);
    CHECK(next.killed_at_start() == 0);
}

TEST_CASE("child ledger: one that cannot be written is not kept, and never throws") {
    test::temp_dir dir;
    // Its directory is missing (a state directory made read-only fails the same open).
    ag::engine::child_ledger ledger(dir.path + "/missing/children");
    CHECK(ledger.killed_at_start() == 0);
    ledger.started(200, 90, 6000, 6001);
    for (pid_t i = 1000; i < 3000; ++i) // past the rewrite size as well
        ledger.started(i, 90, 6000, 6001);
    ledger.ended(200);
    CHECK(std::filesystem::is_empty(dir.path));
}
