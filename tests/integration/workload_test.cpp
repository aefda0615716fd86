// The daemon survives its workload (engine/workload_limits.hpp): a bounded fork bomb and a memory hog started
// through exec end inside the workload's cgroup; the daemon keeps answering and says what happened.
#include "support/gateway.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <string>

using test::gateway;

namespace {

// The cgroup v1 hierarchies this machine has writable (root, as CI runs); elsewhere the cases report skipped.
bool cgroups_writable() {
    return ::geteuid() == 0 && ::access("/sys/fs/cgroup/pids", W_OK) == 0 &&
           ::access("/sys/fs/cgroup/memory", W_OK) == 0;
}

int oom_score_adj_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/oom_score_adj");
    int v = -2000;
    in >> v;
    return v;
}

nlohmann::json exec(const gateway& d, const std::string& command) {
    auto r = d.post(d.api("/console/exec"), {{"command", command}, {"timeoutSeconds", 60}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
}

} // namespace

TEST_CASE("workload: children get a higher OOM score than the daemon" * doctest::skip(::geteuid() != 0)) {
    gateway d;
    auto r = exec(d, "cat /proc/self/oom_score_adj");
    CHECK(std::stoi(r["stdout"].get<std::string>()) > oom_score_adj_of(d.pid()));
    CHECK(d.log().find("workload limits: oom_score_adj") != std::string::npos);
}

TEST_CASE("workload: a fork bomb stops at pids.max while the daemon answers" *
          doctest::skip(!cgroups_writable())) {
    gateway d({"--workload-max-pids", "60"});
    // Up to 300 sleeping processes, of which the cgroup lets about 60 exist.
    auto bomb = std::async(std::launch::async, [&] {
        return exec(d, "i=0; while [ $i -lt 300 ]; do sleep 3 & i=$((i+1)); done; wait");
    });
    // While it runs, the daemon serves others, exec included.
    for (int i = 0; i < 5; ++i)
        CHECK(d.get("/healthz").status == 200);
    auto other = exec(d, "echo still here");
    CHECK(other["stdout"] == "still here\n");
    auto r = bomb.get();
    CHECK(r["exitCode"] != 0);
    CHECK(r["stderr"].get<std::string>().find("fork") != std::string::npos);
    CHECK(::kill(d.pid(), 0) == 0);
    CHECK(d.get("/healthz").status == 200);
}

TEST_CASE("workload: a memory hog is killed in its cgroup and the answer says so" *
          doctest::skip(!cgroups_writable())) {
    gateway d({"--workload-max-memory", "150000000"});
    // 300 MB touched, twice the limit.
    auto r = exec(d, "python3 -c 'a = b\"x\" * (300 << 20); print(len(a))'");
    CHECK(r["exitCode"] == 137);
    CHECK(r["oomKilled"] == true);
    CHECK(r["stdout"] == "");
    // The daemon is still there and the next command runs as usual.
    CHECK(::kill(d.pid(), 0) == 0);
    auto next = exec(d, "echo fine");
    CHECK(next["stdout"] == "fine\n");
    CHECK(next["oomKilled"] == false);
}
