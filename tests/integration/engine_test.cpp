// The supervised engine and the manifest scripts (docs/api.md §6), with the test engine as a real child.
#include "support/engine_helpers.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>

using test::gateway;
using test::logs_contain;
using test::tell_engine;
using test::wait_until;

namespace {

std::string process_id(const gateway& g) {
    auto d = g.get("/v0/agents/local").json();
    return d["processId"].is_string() ? d["processId"].get<std::string>() : std::string();
}

std::string process_status(const gateway& g) {
    return g.get("/v0/agents/local").json()["processStatus"].get<std::string>();
}

bool alive(const std::string& pid) {
    return !pid.empty() && ::kill(std::stoi(pid), 0) == 0;
}

nlohmann::json scripts_of(const gateway& g) {
    return g.get("/v0/agents/local").json()["scripts"];
}

} // namespace

TEST_CASE("the engine runs supervised: status, environment, restart endpoint") {
    test::temp_dir ctl;
    gateway g({"--agent-id", "local", "--engine", test::engine_command(ctl.path)});
    REQUIRE(wait_until([&] { return process_status(g) == "running"; }));
    auto pid = process_id(g);
    REQUIRE(alive(pid));
    // cwd ROOT, AGENT_ID, its own output in the log with source engine.
    CHECK(wait_until([&] {
        return logs_contain(g, "INFO [engine] engine up: agent local pid " + pid + " cwd " + g.root());
    }));
    CHECK(logs_contain(g, "WARN [engine] a JSON warning"));
    CHECK(::getpgid(std::stoi(pid)) == std::stoi(pid)); // its own process group

    auto r = g.post(g.api("/restart"), nlohmann::json::object());
    REQUIRE(r.status == 200);
    auto body = r.json();
    CHECK(body["success"] == true);
    CHECK(body["previousProcessId"] == pid);
    CHECK_FALSE(alive(pid));
    auto next = process_id(g);
    CHECK(!next.empty());
    CHECK(next != pid);
    CHECK(alive(next));
    // An empty body with a JSON content type is fine too (clients send that).
    CHECK(g.request("POST", g.api("/restart"), "", {{"Content-Type", "application/json"}}).status == 200);
}

TEST_CASE("restart without an engine is a conflict; the detail says not_running") {
    gateway g;
    auto r = g.post(g.api("/restart"), nlohmann::json::object());
    CHECK(r.status == 409);
    CHECK(r.json()["error"].get<std::string>().find("engine") != std::string::npos);
    auto d = g.get("/v0/agents/local").json();
    CHECK(d["processStatus"] == "not_running");
    CHECK(d["processId"].is_null());
    CHECK(d["scripts"] == nlohmann::json{{"build", "not_configured"}, {"start", "not_configured"}});
    CHECK(g.post(g.api("/scripts/retry"), nlohmann::json::object()).status == 409);
}

TEST_CASE("a crashed engine comes back after a backoff that doubles") {
    test::temp_dir ctl;
    gateway g({"--engine", test::engine_command(ctl.path)});
    REQUIRE(wait_until([&] { return alive(process_id(g)); }));
    auto first = process_id(g);
    tell_engine(ctl.path, "crash", "");
    REQUIRE(wait_until([&] { return logs_contain(g, "engine exited unexpectedly (exit code 3)"); }));
    CHECK(logs_contain(g, "engine: restarting in 1s"));
    auto crashed_at = std::chrono::steady_clock::now();
    REQUIRE(wait_until([&] {
        auto p = process_id(g);
        return !p.empty() && p != first;
    }));
    auto waited = std::chrono::steady_clock::now() - crashed_at;
    CHECK(waited >= std::chrono::milliseconds(700));
    // The second crash within a minute waits twice as long.
    auto second = process_id(g);
    REQUIRE(wait_until([&] { return logs_contain(g, "engine up: agent local pid " + second); }));
    tell_engine(ctl.path, "crash", "");
    CHECK(wait_until([&] { return logs_contain(g, "engine: restarting in 2s"); }));
    REQUIRE(wait_until(
        [&] {
            auto p = process_id(g);
            return !p.empty() && p != second;
        },
        std::chrono::seconds(10)));
    CHECK_FALSE(alive(second));
}

TEST_CASE("stopping the daemon stops the engine, SIGKILL when it ignores SIGTERM") {
    test::temp_dir ctl;
    auto g = std::make_unique<gateway>(std::vector<std::string>{"--engine", test::engine_command(ctl.path)});
    REQUIRE(wait_until([&] { return alive(process_id(*g)); }));
    auto pid = process_id(*g);
    tell_engine(ctl.path, "hang-term", "");
    REQUIRE(wait_until([&] { return logs_contain(*g, "ignoring SIGTERM"); }));
    auto started = std::chrono::steady_clock::now();
    CHECK(g->stop() == 0);
    auto took = std::chrono::steady_clock::now() - started;
    CHECK_FALSE(alive(pid));
    CHECK(took >= std::chrono::seconds(9)); // it had 10 s to go by itself
    CHECK(took < std::chrono::seconds(15));
    CHECK(g->log().find("engine ignored SIGTERM for 10s; sending SIGKILL") != std::string::npos);
}

TEST_CASE("manifest scripts: build then start, states, logs, retry, failure") {
    test::temp_dir root;
    std::string ws = root.path + "/workspace";
    ::mkdir(ws.c_str(), 0755);
    test::write_file(ws + "/manifest.json", R"({"version":1,"agent":{"name":"Scripted"},
        "scripts":{"build":"echo building in $(pwd) for $AGENT_ID; echo built > built.txt",
                   "start":"echo start sees $(cat built.txt); exec sleep 300"}})");
    gateway g({}, root.path);
    REQUIRE(wait_until([&] { return scripts_of(g)["start"] == "running"; }));
    CHECK(scripts_of(g)["build"] == "success");
    CHECK(g.get("/v0/agents/local").json()["agent"]["name"] == "Scripted");
    CHECK(logs_contain(g, "INFO [script/build] building in " + root.path + " for local"));
    CHECK(wait_until([&] { return logs_contain(g, "INFO [script/start] start sees built"); }));
    CHECK(logs_contain(g, "[script/build] build succeeded in"));

    // A failing build: start is not run again and the old one keeps running; the state says failed.
    test::write_file(
        ws + "/manifest.json",
        R"({"version":1,"scripts":{"build":"echo about to fail; exit 7","start":"exec sleep 300"}})");
    auto r = g.post(g.api("/scripts/retry"), nlohmann::json::object());
    REQUIRE(r.status == 200);
    CHECK(r.json()["success"] == true);
    CHECK(wait_until([&] { return scripts_of(g)["build"] == "failed"; }));
    CHECK(logs_contain(g, "ERROR [script/build] build failed with exit code 7"));
    CHECK(logs_contain(g, "INFO [script/build] about to fail"));

    // Fixed again: retry builds and restarts start.
    test::write_file(
        ws + "/manifest.json",
        R"({"version":1,"scripts":{"build":"true","start":"echo second start; exec sleep 300"}})");
    REQUIRE(g.post(g.api("/scripts/retry"), nlohmann::json::object()).status == 200);
    CHECK(wait_until([&] { return logs_contain(g, "[script/start] second start"); }));
    CHECK(scripts_of(g)["build"] == "success");
    CHECK(scripts_of(g)["start"] == "running");
}

TEST_CASE("a failed first build leaves start pending") {
    test::temp_dir root;
    std::string ws = root.path + "/workspace";
    ::mkdir(ws.c_str(), 0755);
    test::write_file(ws + "/manifest.json",
                     R"({"version":1,"scripts":{"build":"exit 1","start":"echo should not run"}})");
    gateway g({}, root.path);
    REQUIRE(wait_until([&] { return scripts_of(g)["build"] == "failed"; }));
    // The start is decided in the same step that records the failed build: by now it would be running.
    CHECK(scripts_of(g)["start"] == "pending");
    CHECK_FALSE(logs_contain(g, "should not run"));
}
