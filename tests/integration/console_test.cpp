// docs/api.md §8: console exec against real child processes.
#include "support/engine_helpers.hpp"
#include "support/gateway.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>

#include <future>
#include <thread>

using test::gateway;

namespace {
nlohmann::json exec(const gateway& d, nlohmann::json body, int expect = 200) {
    auto r = d.post(d.api("/console/exec"), body);
    REQUIRE(r.status == expect);
    return r.json();
}
} // namespace

TEST_CASE("exec: output, exit code, fields, default and relative cwd") {
    gateway d;
    ::mkdir((d.root() + "/sub").c_str(), 0755);
    auto j = exec(d, {{"command", "echo out; echo err >&2; exit 3"}});
    CHECK(j["stdout"] == "out\n");
    CHECK(j["stderr"] == "err\n");
    CHECK(j["exitCode"] == 3);
    CHECK(j["command"] == "echo out; echo err >&2; exit 3");
    CHECK(j["timedOut"] == false);
    CHECK(j["truncated"] == false);
    CHECK(j["durationMs"].is_number_integer());
    CHECK(j["timestamp"].get<std::string>().size() == 24);

    CHECK(exec(d, {{"command", "pwd"}})["stdout"] == d.workspace() + "\n");
    CHECK(exec(d, {{"command", "pwd"}, {"cwd", "sub"}})["stdout"] == d.root() + "/sub\n");
    CHECK(exec(d, {{"command", "pwd"}, {"cwd", "/tmp"}})["stdout"] == "/tmp\n");
    CHECK(exec(d, {{"command", "echo $AGENT_ID $FOO"}, {"env", {{"FOO", "bar baz"}}}})["stdout"] ==
          "local bar baz\n");
    CHECK(exec(d, {{"command", "cat; echo"}, {"stdin", "from stdin"}})["stdout"] == "from stdin\n");
    CHECK(exec(d, {{"command", "cat"}})["stdout"] == ""); // no stdin: /dev/null
    // A child in its own process group.
    auto pg = exec(d, {{"command", "ps -o pgid= -p $$; echo $$"}})["stdout"].get<std::string>();
    std::istringstream in(pg);
    long pgid = 0, pid = 0;
    in >> pgid >> pid;
    CHECK(pgid == pid);
}

TEST_CASE("exec: bad input") {
    gateway d;
    CHECK(exec(d, {{"command", ""}}, 400)["error"] == "Invalid command");
    CHECK(exec(d, {{"command", 42}}, 400)["error"] == "Invalid command");
    CHECK(exec(d, nlohmann::json::object(), 400)["error"] == "Invalid command");
    CHECK(exec(d, {{"command", "true"}, {"cwd", "does/not/exist"}}, 400)["error"] == "Invalid cwd");
    test::write_file(d.root() + "/file", "x");
    CHECK(exec(d, {{"command", "true"}, {"cwd", "file"}}, 400)["error"] == "Invalid cwd");
    CHECK(exec(d, {{"command", "true"}, {"cwd", 7}}, 400)["error"] == "Invalid cwd");
    CHECK(exec(d, {{"command", "true"}, {"timeoutSeconds", 0}}, 400)["error"].get<std::string>().find(
              "timeoutSeconds") != std::string::npos);
    CHECK(exec(d, {{"command", "true"}, {"timeoutSeconds", 601}}, 400)["error"].get<std::string>().find(
              "timeoutSeconds") != std::string::npos);
    CHECK(exec(d, {{"command", "true"}, {"env", {{"A", 1}}}}, 400)["error"].get<std::string>().find("env") !=
          std::string::npos);
    CHECK(exec(d, {{"command", "true"}, {"env", "A=1"}}, 400)["error"].get<std::string>().find("env") !=
          std::string::npos);
    CHECK(exec(d, {{"command", "true"}, {"stdin", 5}}, 400)["error"].get<std::string>().find("stdin") !=
          std::string::npos);
}

TEST_CASE("exec: timeout kills the whole group and keeps the output so far") {
    gateway d;
    std::string pidfile = d.root() + "/bg.pid";
    auto t0 = std::chrono::steady_clock::now();
    auto j = exec(d, {{"command", "sleep 300 & echo $! > " + pidfile + "; echo before; sleep 300"},
                      {"timeoutSeconds", 1}});
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(j["timedOut"] == true);
    CHECK(j["exitCode"] == 124);
    CHECK(j["stdout"] == "before\n");
    CHECK(took < std::chrono::seconds(4));
    pid_t bg = std::stoi(test::read_file(pidfile));
    // The background sleep went with the group: gone, or a zombie waiting for whoever adopted it. (The
    // signal is sent before the answer; its delivery is the kernel's, so allow it a moment.)
    std::string stat;
    auto dead = [&] {
        stat = test::read_file("/proc/" + std::to_string(bg) + "/stat");
        return stat.empty() || stat.find(") Z ") != std::string::npos;
    };
    CHECK_MESSAGE(test::wait_until(dead, std::chrono::seconds(2)), stat);

    // A command that ignores SIGTERM is killed 2 s later.
    t0 = std::chrono::steady_clock::now();
    auto k = exec(
        d, {{"command", "trap '' TERM; echo stubborn; while :; do sleep 0.1; done"}, {"timeoutSeconds", 1}});
    took = std::chrono::steady_clock::now() - t0;
    CHECK(k["timedOut"] == true);
    CHECK(k["exitCode"] == 124);
    CHECK(k["stdout"] == "stubborn\n");
    CHECK(took >= std::chrono::milliseconds(2900));
    CHECK(took < std::chrono::seconds(6));
}

TEST_CASE("exec: signals, background processes, invalid UTF-8") {
    gateway d;
    CHECK(exec(d, {{"command", "kill -9 $$"}})["exitCode"] == 137);
    CHECK(exec(d, {{"command", "kill -15 $$"}})["exitCode"] == 143);
    // A background process holding the pipes does not hold the answer.
    auto t0 = std::chrono::steady_clock::now();
    auto bg = exec(d, {{"command", "sleep 5 & echo started"}});
    CHECK(bg["stdout"] == "started\n");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
    auto bad = exec(d, {{"command", "printf 'a\\377b\\303'"}});
    CHECK(bad["stdout"] == "a\xEF\xBF\xBD"
                           "b\xEF\xBF\xBD");
}

TEST_CASE("exec: output beyond the limit keeps head and tail, and never blocks the child") {
    gateway d({"--exec-max-output", "1000"});
    auto j = exec(d, {{"command", "echo HEAD; head -c 20000000 /dev/zero | tr '\\0' x; echo; echo TAIL"}});
    CHECK(j["exitCode"] == 0);
    CHECK(j["truncated"] == true);
    auto out = j["stdout"].get<std::string>();
    CHECK(out.rfind("HEAD\n", 0) == 0);
    CHECK(out.size() < 1100);
    CHECK(out.find("bytes omitted]") != std::string::npos);
    CHECK(out.substr(out.size() - 5) == "TAIL\n");
    auto err = exec(d, {{"command", "head -c 5000 /dev/zero | tr '\\0' e >&2"}});
    CHECK(err["truncated"] == true);
    CHECK(err["stderr"].get<std::string>().find("[4000 bytes omitted]") != std::string::npos);
}

TEST_CASE("exec: at most 16 at once") {
    gateway d;
    std::vector<std::future<int>> runs;
    for (int i = 0; i < 20; ++i)
        runs.push_back(std::async(std::launch::async, [&] {
            return d.post(d.api("/console/exec"), {{"command", "sleep 1.5"}}).status;
        }));
    int ok = 0, limited = 0;
    for (auto& f : runs) {
        int s = f.get();
        ok += s == 200;
        limited += s == 429;
    }
    CHECK(ok == 16);
    CHECK(limited == 4);
    CHECK(exec(d, {{"command", "echo free"}})["stdout"] == "free\n");
}

TEST_CASE("exec: a command over 128 KiB runs; an env name with NUL is named whole; a huge env is a 400") {
    gateway d;
    const std::string filler(200 * 1024, 'x');
    auto j = exec(d, {{"command", "echo start; : " + filler + "; echo end $#"}});
    CHECK(j["exitCode"] == 0);
    CHECK(j["stdout"] == "start\nend 0\n");
    CHECK(j["command"].get<std::string>().size() == filler.size() + 27);
    // Short commands still run as `sh -c` (their $0 is sh).
    CHECK(exec(d, {{"command", "echo $0"}})["stdout"] == "/bin/sh\n");

    auto nul =
        d.post(d.api("/console/exec"), {{"command", "true"}, {"env", {{std::string("A\0B", 3), "v"}}}});
    CHECK(nul.status == 400);
    CHECK(nul.json()["error"] == "Invalid env: \"A\\u0000B\" must be a name without '=' with a string value");

    auto huge = d.post(d.api("/console/exec"),
                       {{"command", "true"}, {"env", {{"BIG", std::string(300 * 1024, 'v')}}}});
    CHECK(huge.status == 400);
    CHECK(huge.json()["error"].get<std::string>().starts_with("Invalid env"));
}
