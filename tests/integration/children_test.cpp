// What children of the daemon inherit (docs/api.md §2): no descriptor, none of the daemon's own settings; and
// an exec that times out takes its whole process group along (§8).
#include "support/engine_helpers.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

using test::gateway;
using test::wait_until;

namespace {

nlohmann::json exec(const gateway& d, const nlohmann::json& body) {
    auto r = d.post(d.api("/console/exec"), body);
    REQUIRE(r.status == 200);
    return r.json();
}

// errno of a connect to 127.0.0.1:port (0 when it was accepted).
int connect_errno(int port) {
    int fd = test::connect_loopback(port);
    if (fd < 0)
        return errno;
    ::close(fd);
    return 0;
}

// Whether any process runs with exactly this command line (arguments joined by spaces).
bool running(const std::string& cmdline) {
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        std::string c = test::read_file(e.path().string() + "/cmdline");
        for (auto& ch : c)
            if (ch == '\0')
                ch = ' ';
        if (!c.empty() && c.substr(0, c.size() - 1) == cmdline)
            return true;
    }
    return false;
}

} // namespace

TEST_CASE("children: only descriptors 0-2 and no AGENT_GATEWAY_* variable reach the engine and execs") {
    test::temp_dir root;
    const std::string r = root.path;
    gateway g({"--no-token", "--engine", "env > " + r + "/engine-env; exec sleep 600"}, r, {},
              {std::string("AGENT_GATEWAY_TOKEN=") + gateway::token, "AGENT_GATEWAY_EXEC_TIMEOUT=30"});
    // A request is open while the exec runs: its connection must not be among the child's descriptors.
    auto fds = exec(g, {{"command", "ls /proc/$$/fd"}})["stdout"].get<std::string>();
    CHECK(fds == "0\n1\n2\n");
    auto env = exec(g, {{"command", "env"}})["stdout"].get<std::string>();
    CHECK(env.find("AGENT_GATEWAY_") == std::string::npos);
    CHECK(env.find(gateway::token) == std::string::npos);
    CHECK(env.find("AGENT_ID=local") != std::string::npos);
    // What the operator passes explicitly is kept.
    CHECK(exec(g, {{"command", "echo $MINE"}, {"env", {{"MINE", "x"}}}})["stdout"] == "x\n");
    REQUIRE(wait_until(
        [&] { return test::exists(r + "/engine-env") && !test::read_file(r + "/engine-env").empty(); }));
    // The engine's descriptors, seen from outside once it is `sleep`: what it inherited and nothing more.
    auto pid = g.get("/v0/agents/local").json()["processId"];
    REQUIRE(pid.is_string());
    CHECK(test::list_dir("/proc/" + pid.get<std::string>() + "/fd") ==
          std::vector<std::string>{"0", "1", "2"});
    auto engine_env = test::read_file(r + "/engine-env");
    CHECK(engine_env.find("AGENT_GATEWAY_") == std::string::npos);
    CHECK(engine_env.find(gateway::token) == std::string::npos);
}

TEST_CASE("children: a background server started by an exec does not keep the daemon's port") {
    gateway g;
    const int port = g.port();
    auto pid = exec(g, {{"command", "sleep 60.25 >/dev/null 2>&1 & echo $!"}})["stdout"].get<std::string>();
    REQUIRE(!pid.empty());
    CHECK(g.stop() == 0);
    // The port is free: a client is refused at once instead of hanging in a backlog nobody accepts from.
    CHECK(connect_errno(port) == ECONNREFUSED);
    CHECK(running("sleep 60.25"));
    ::kill(-std::stoi(pid), SIGKILL);
    ::kill(std::stoi(pid), SIGKILL);
}

TEST_CASE("children: an exec timeout kills the group when the shell dies at SIGTERM and a child ignores it") {
    gateway g;
    auto j = exec(g, {{"command", "sh -c 'trap \"\" TERM; sleep 20.75; echo survived > " + g.root() +
                                      "/survived' & wait"},
                      {"timeoutSeconds", 1}});
    CHECK(j["timedOut"] == true);
    CHECK(j["exitCode"] == 124);
    // SIGKILL went to the group before the answer; the process is gone once the kernel has reaped it.
    CHECK(wait_until([] { return !running("sleep 20.75"); }, std::chrono::seconds(2)));
    CHECK_FALSE(test::exists(g.root() + "/survived"));
}
