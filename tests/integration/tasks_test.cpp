// Tasks (docs/api.md §14) through the real daemon: the product CLI's requests as it sends them, the rules,
// delivery to an engine's hooks (a real HTTP service, tests/support/upstream.py; the real engine is in
// tests/engine), commands, persistence across kill -9, and runs missed while the daemon was down.
#include "support/gateway.hpp"
#include "support/kill.hpp"
#include "support/upstream.hpp"
#include "tasks/job.hpp"
#include "upstream/client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>

using nlohmann::json;
using test::gateway;
using test::upstream_service;
using namespace std::chrono_literals;

namespace {

json cli_job(const std::string& message = "Summarise the news") {
    return json::parse(R"({"name":"morning","enabled":true,"schedule":{"kind":"cron","expr":"0 9 * * *"},
        "sessionTarget":"main","payload":{"kind":"agentTurn","message":")" +
                       message + R"("}})");
}

json command_job(const std::string& command, json extra = json::object()) {
    json payload{{"kind", "command"}, {"command", command}};
    for (auto& [k, v] : extra.items())
        payload[k] = v;
    return {{"name", "cmd"}, {"schedule", "@daily"}, {"payload", payload}};
}

json create(const gateway& g, const json& body) {
    auto r = g.post(g.api("/tasks"), body);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.json();
}

json run_now(const gateway& g, const std::string& id) {
    auto r = g.request("POST", g.api("/tasks/" + id + "/run"));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
}

// What the hooks service was sent so far.
json hooks_seen(const upstream_service& up) {
    ag::upstream::request req;
    req.target = "/hooks-seen";
    auto res =
        ag::upstream::fetch(ag::upstream::endpoint::parse("http://127.0.0.1:" + std::to_string(up.port())),
                            req, {std::chrono::seconds(10)});
    return json::parse(res.body);
}

std::string error_of(const gateway& g, const json& body) {
    auto r = g.post(g.api("/tasks"), body);
    CHECK(r.status == 400);
    return r.json().value("error", "");
}

// Waits (bounded) until `done` holds.
template <class F> bool eventually(F done, std::chrono::seconds limit = 15s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

std::string iso_in(std::chrono::milliseconds from_now) {
    auto t = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now() + from_now);
    std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buf) + "." + std::to_string(1000 + t.time_since_epoch().count() % 1000).substr(1) +
           "Z";
}

} // namespace

TEST_CASE("tasks: the product CLI's requests work as it sends them") {
    gateway g;
    auto job = create(g, cli_job());
    std::string id = job["id"];
    CHECK(job["payload"] == json{{"kind", "agentTurn"}, {"message", "Summarise the news"}});
    CHECK(job["schedule"] == json{{"kind", "cron"}, {"expr", "0 9 * * *"}});
    CHECK(job["state"]["nextRunAtMs"].is_number());
    CHECK(g.get(g.api("/tasks?includeDisabled=false")).json()["jobs"].size() == 1);
    CHECK(g.get(g.api("/tasks/" + id)).json()["name"] == "morning");

    auto off = g.post(g.api("/tasks/" + id + "/toggle"), json{{"enabled", false}});
    REQUIRE(off.status == 200);
    CHECK(off.json()["enabled"] == false);
    CHECK(off.json()["state"]["nextRunAtMs"].is_null());
    CHECK(g.get(g.api("/tasks?includeDisabled=false")).json()["jobs"].empty());
    CHECK(g.get(g.api("/tasks?includeDisabled=true")).json()["jobs"].size() == 1);

    auto renamed = g.request("PUT", g.api("/tasks/" + id), R"({"name":"evening"})");
    REQUIRE(renamed.status == 200);
    CHECK(renamed.json()["name"] == "evening");
    CHECK(renamed.json()["payload"] == job["payload"]);
    CHECK(renamed.json()["enabled"] == false);

    CHECK(g.get(g.api("/tasks/" + id + "/runs?limit=10")).json()["runs"].empty());
    // Run now with an empty body: without --engine-url the turn has nowhere to go.
    auto r = run_now(g, id);
    CHECK(r["status"] == "error");
    CHECK(r["trigger"] == "manual");
    CHECK(r["error"] == "no --engine-url: there is no engine to deliver to");
    CHECK(r["jobId"] == id);
    auto runs = g.get(g.api("/tasks/" + id + "/runs?limit=10")).json()["runs"];
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["id"] == r["id"]);
    CHECK(g.get(g.api("/tasks/" + id)).json()["state"]["lastStatus"] == "error");

    CHECK(g.request("DELETE", g.api("/tasks/" + id)).status == 200);
    CHECK(g.get(g.api("/tasks/" + id)).status == 404);
    CHECK(g.get(g.api("/tasks/" + id + "/runs")).status == 404);
    CHECK(g.request("POST", g.api("/tasks/" + id + "/run")).status == 404);
    CHECK(g.get(g.api("/tasks/" + id)).json()["error"] == "Task not found");
}

TEST_CASE("tasks: bad requests get 400 naming the rule, and nothing changes") {
    gateway g;
    CHECK(error_of(g, json{{"schedule", "@daily"}, {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}}) ==
          "Invalid parameters: name is required (a non-empty string)");
    CHECK(error_of(g, json{{"name", "n"}, {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}}) ==
          "Invalid parameters: schedule is required");
    CHECK(error_of(g, json{{"name", "n"}, {"schedule", "@daily"}}) ==
          "Invalid parameters: payload is required");
    CHECK(error_of(g, json{{"name", "n"},
                           {"schedule", {{"kind", "every"}, {"everyMs", 30000}}},
                           {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}}) ==
          "Invalid parameters: schedule.everyMs must be at least 60000: the shortest interval is one minute");
    CHECK(error_of(g, json{{"name", "n"},
                           {"schedule", {{"kind", "cron"}, {"expr", "0 9 * * *"}, {"tz", "Europe/Atlantis"}}},
                           {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}}) ==
          "Invalid parameters: schedule.tz: unknown time zone 'Europe/Atlantis'");
    CHECK(error_of(g, json{{"name", "n"}, {"schedule", "0 25 * * *"}, {"prompt", "p"}}) ==
          "Invalid parameters: schedule.expr: hour: 25 is over 23");
    // An at outside the years 2000 to 9999 (2^63-1 ms was accepted and showed as 1969), as ms or ISO.
    const std::string out_of_range = "Invalid parameters: schedule.at must be within the years 2000 to 9999";
    for (json at :
         {json(std::numeric_limits<std::int64_t>::max()), json(std::numeric_limits<std::uint64_t>::max()),
          json(-1), json("9999-12-31T23:30:00-01:00"), json("1969-12-31T23:59:59Z")})
        CHECK(error_of(g, json{{"name", "n"},
                               {"schedule", {{"kind", "at"}, {"at", at}}},
                               {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}}) == out_of_range);
    auto bad_json = g.request("POST", g.api("/tasks"), "{nope", {{"Content-Type", "application/json"}});
    CHECK(bad_json.status == 400);
    CHECK(g.get(g.api("/tasks")).json()["jobs"].empty());
    CHECK(g.get(g.api("/tasks?includeDisabled=maybe")).status == 400);
    CHECK(g.get(g.api("/tasks/x/runs?limit=0")).status == 400);

    auto named = cli_job();
    named["id"] = "daily-report";
    CHECK(create(g, named)["id"] == "daily-report");
    auto dup = g.post(g.api("/tasks"), named);
    CHECK(dup.status == 409);
    for (int i = 1; i < 20; ++i)
        create(g, cli_job());
    auto full = g.post(g.api("/tasks"), cli_job());
    CHECK(full.status == 400);
    CHECK(full.json()["error"] == "Invalid parameters: at most 20 tasks (delete one first)");
    auto bad_put =
        g.request("PUT", g.api("/tasks/daily-report"), R"({"schedule":{"kind":"every","everyMs":5}})");
    CHECK(bad_put.status == 400);
    CHECK(g.get(g.api("/tasks/daily-report")).json()["schedule"]["expr"] == "0 9 * * *");
    auto far_put = g.request("PUT", g.api("/tasks/daily-report"),
                             R"({"schedule":{"kind":"at","at":9223372036854775807}})");
    CHECK(far_put.status == 400);
    CHECK(far_put.json()["error"] == out_of_range);
    CHECK(g.get(g.api("/tasks/daily-report")).json()["schedule"]["expr"] == "0 9 * * *");
    CHECK(g.request("PUT", g.api("/tasks/none"), R"({"name":"x"})").status == 404);
}

TEST_CASE("tasks: delivery to the engine's hooks, with the token file read at each run") {
    upstream_service engine;
    test::temp_dir secrets;
    test::write_file(secrets / "hooks-token", "hooks-secret-one\n");
    gateway g({"--engine-url", "http://127.0.0.1:" + std::to_string(engine.port()),
               "--engine-hooks-token-file", secrets / "hooks-token"});

    json wake{{"name", "nudge"},
              {"schedule", "@hourly"},
              {"wakeMode", "next-heartbeat"},
              {"payload", {{"kind", "systemEvent"}, {"message", "check the inbox"}}}};
    auto r = run_now(g, create(g, wake)["id"]);
    CHECK(r["status"] == "ok");
    CHECK(r["error"].is_null());
    auto seen = hooks_seen(engine);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0]["path"] == "/hooks/wake");
    CHECK(seen[0]["authorization"] == "Bearer hooks-secret-one");
    CHECK(seen[0]["body"] == json{{"text", "check the inbox"}, {"mode", "next-heartbeat"}});
    CHECK(json::parse(r["output"].get<std::string>())["eventOutcome"] == "queued");

    auto turn = cli_job("write the report");
    turn["payload"]["model"] = "mock/echo";
    turn["payload"]["timeoutSeconds"] = 120;
    turn["delivery"] = {{"mode", "announce"}, {"channel", "slack"}, {"to", "#general"}};
    std::string turn_id = create(g, turn)["id"];
    CHECK(run_now(g, turn_id)["status"] == "ok");
    seen = hooks_seen(engine);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1]["path"] == "/hooks/agent");
    CHECK(seen[1]["body"] == json{{"message", "write the report"},
                                  {"name", "morning"},
                                  {"wakeMode", "now"},
                                  {"model", "mock/echo"},
                                  {"timeoutSeconds", 120},
                                  {"deliver", true},
                                  {"channel", "slack"},
                                  {"to", "#general"},
                                  {"waitForCompletion", true}});

    // The turn's own outcome decides the run.
    auto failed = run_now(g, create(g, cli_job("please fail"))["id"]);
    CHECK(failed["status"] == "error");
    CHECK(failed["error"] == "the turn ended with error: model failed");
    auto denied = run_now(g, create(g, cli_job("deny me"))["id"]);
    CHECK(denied["status"] == "error");
    CHECK(denied["error"] == "the engine answered 401: {\"error\": \"Unauthorized\"}");

    // A rotated token is used at the next run, and no token reaches the log.
    test::write_file(secrets / "hooks-token", "hooks-secret-two");
    run_now(g, turn_id);
    CHECK(hooks_seen(engine).back()["authorization"] == "Bearer hooks-secret-two");
    CHECK(g.log().find("hooks-secret") == std::string::npos);
    auto state = g.get(g.api("/tasks/" + turn_id)).json()["state"];
    CHECK(state["lastStatus"] == "ok");
    CHECK(state["consecutiveErrors"] == 0);
}

TEST_CASE("tasks: an engine that is not there, and a run still going when the next one is due") {
    int closed_port = 0;
    {
        upstream_service gone;
        closed_port = gone.port();
    }
    gateway nowhere({"--engine-url", "http://127.0.0.1:" + std::to_string(closed_port)});
    auto r = run_now(nowhere, create(nowhere, cli_job())["id"]);
    CHECK(r["status"] == "error");
    CHECK(r["error"].get<std::string>().starts_with("the engine did not answer: "));

    upstream_service engine;
    gateway g({"--engine-url", "http://127.0.0.1:" + std::to_string(engine.port())});
    std::string id = create(g, cli_job("hang until released"))["id"];
    json first;
    std::thread slow([&] { first = run_now(g, id); });
    REQUIRE(eventually([&] { return hooks_seen(engine).size() == 1; }));
    auto second = run_now(g, id);
    CHECK(second["status"] == "skipped");
    CHECK(second["error"] == "the previous run is still going");
    ag::upstream::request release;
    release.target = "/release";
    ag::upstream::fetch(ag::upstream::endpoint::parse("http://127.0.0.1:" + std::to_string(engine.port())),
                        release);
    slow.join();
    CHECK(first["status"] == "ok");
    auto runs = g.get(g.api("/tasks/" + id + "/runs")).json()["runs"];
    REQUIRE(runs.size() == 2);
    CHECK(runs[0]["status"] == "ok"); // newest first: the first run ended last
    CHECK(runs[1]["status"] == "skipped");
    CHECK(g.get(g.api("/tasks/" + id)).json()["state"]["lastStatus"] == "ok");
}

TEST_CASE("tasks: command payloads run like a console exec") {
    gateway g;
    test::write_file(g.workspace() + "/marker", "here");
    auto ok = run_now(g, create(g, command_job("cat marker; echo warn >&2"))["id"]);
    CHECK(ok["status"] == "ok");
    CHECK(ok["output"] == "here\n[stderr]\nwarn\n");
    auto failed = run_now(g, create(g, command_job("exit 3"))["id"]);
    CHECK(failed["status"] == "error");
    CHECK(failed["error"] == "exit code 3");
    auto slow = run_now(g, create(g, command_job("sleep 30", {{"timeoutSeconds", 1}}))["id"]);
    CHECK(slow["status"] == "error");
    CHECK(slow["error"] == "timed out after 1 s");
    CHECK(slow["durationMs"].get<int>() < 10000);
    auto env = run_now(g, create(g, command_job("echo $AGENT_ID; pwd", {{"cwd", "workspace"}}))["id"]);
    CHECK(env["output"] == "local\n" + g.workspace() + "\n");
    auto nowhere = run_now(g, create(g, command_job("true", {{"cwd", "no/such/dir"}}))["id"]);
    CHECK(nowhere["error"] == "cwd no/such/dir is not a directory");
    // Output is bounded in the history.
    auto big = run_now(g, create(g, command_job("head -c 100000 /dev/zero | tr '\\0' x"))["id"]);
    CHECK(big["output"].get<std::string>().size() == 16 * 1024);
    // A 3-byte character across the 16 KiB cut: the run is still recorded (cut before the character) and
    // the job's state kept.
    std::string split_id = create(g, command_job("printf '%16383s\xE2\x82\xAC' ''"))["id"];
    auto split = run_now(g, split_id);
    CHECK(split["status"] == "ok");
    CHECK(split["output"] == std::string(16383, ' '));
    auto split_runs = g.get(g.api("/tasks/" + split_id + "/runs")).json()["runs"];
    REQUIRE(split_runs.size() == 1);
    CHECK(split_runs[0]["output"] == std::string(16383, ' '));
    auto split_state = g.get(g.api("/tasks/" + split_id)).json()["state"];
    CHECK(split_state["lastStatus"] == "ok");
    CHECK(split_state["lastRunAtMs"].is_number());
}

TEST_CASE("tasks: a job due while the daemon is down is skipped, and the next one fires on time") {
    upstream_service engine;
    test::temp_dir root;
    std::vector<std::string> args{"--engine-url", "http://127.0.0.1:" + std::to_string(engine.port())};
    auto at_job = [](const std::string& name, const std::string& when) {
        return json{{"name", name},
                    {"schedule", {{"kind", "at"}, {"at", when}}},
                    {"payload", {{"kind", "systemEvent"}, {"text", name}}}};
    };
    std::string missed_id, next_id, next_at;
    std::chrono::system_clock::time_point missed_at;
    {
        gateway g(args, root.path);
        std::string when = iso_in(1500ms);
        missed_at = std::chrono::system_clock::time_point(*ag::tasks::parse_iso8601(when));
        missed_id = create(g, at_job("missed", when))["id"];
        next_at = iso_in(6000ms);
        next_id = create(g, at_job("next", next_at))["id"];
        ::kill(g.pid(), SIGKILL);
        g.stop();
    }
    // The wall clock itself is what this waits for.
    while (std::chrono::system_clock::now() < missed_at + 300ms)
        std::this_thread::sleep_for(50ms);
    gateway g(args, root.path);
    auto runs = g.get(g.api("/tasks/" + missed_id + "/runs")).json()["runs"];
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "skipped");
    CHECK(runs[0]["error"].get<std::string>().starts_with("missed: the daemon was not running at "));
    auto missed = g.get(g.api("/tasks/" + missed_id)).json();
    CHECK(missed["enabled"] == false);
    CHECK(missed["state"]["lastStatus"] == "skipped");
    CHECK(hooks_seen(engine).empty());

    REQUIRE(
        eventually([&] { return g.get(g.api("/tasks/" + next_id + "/runs")).json()["runs"].size() == 1; }));
    auto fired = g.get(g.api("/tasks/" + next_id + "/runs")).json()["runs"][0];
    CHECK(fired["status"] == "ok");
    CHECK(fired["trigger"] == "schedule");
    auto started = *ag::tasks::parse_iso8601(fired["startedAt"].get<std::string>());
    auto due = *ag::tasks::parse_iso8601(next_at);
    MESSAGE("fired " << (started - due).count() << " ms after its time");
    CHECK(started >= due);
    CHECK(started - due < std::chrono::milliseconds(1500));
    CHECK(hooks_seen(engine).size() == 1);
}

TEST_CASE("tasks: the table survives kill -9 at any point of a write") {
    test::temp_dir root;
    std::mt19937 rng(20261202);
    long long write_us = 0;
    {
        gateway g({}, root.path);
        write_us = test::microseconds_of([&] { create(g, cli_job()); });
        g.stop();
    }
    int before_answer = 0;
    std::size_t last_count = 1;
    for (int round = 0; round < 12; ++round) {
        gateway g({}, root.path);
        auto jobs = g.get(g.api("/tasks")).json()["jobs"];
        // The kill fell before or after the commit: one more job, or none, never a broken table.
        CHECK((jobs.size() == last_count || jobs.size() == last_count + 1));
        last_count = jobs.size();
        std::string id = jobs[0]["id"];
        bool answered = test::kill_during(g, std::chrono::microseconds(rng() % (2 * write_us + 1)), [&] {
            if (round % 3 == 2)
                g.request("PUT", g.api("/tasks/" + id),
                          R"({"name":"renamed )" + std::to_string(round) + R"("})");
            else if (round % 3 == 1)
                g.request("POST", g.api("/tasks/" + id + "/run"));
            else
                g.post(g.api("/tasks"), cli_job());
        });
        before_answer += answered ? 0 : 1;
    }
    MESSAGE(before_answer << " of 12 kills landed before the answers");
    CHECK(before_answer >= 1);
    gateway last({}, root.path);
    auto jobs = last.get(last.api("/tasks")).json()["jobs"];
    CHECK(jobs.size() >= 1);
    for (const auto& j : jobs)
        CHECK(last.get(last.api("/tasks/" + j["id"].get<std::string>() + "/runs")).status == 200);
    for (const auto& e : std::filesystem::directory_iterator(root.path + "/.agent-gateway/tasks"))
        CHECK_MESSAGE(e.path().filename().string().find(".tmp-") == std::string::npos, e.path());
}

TEST_CASE("tasks: the manifest seeds the first start; the agent detail shows the scheduler") {
    test::temp_dir root;
    std::filesystem::create_directories(root / "workspace");
    test::write_file(
        root / "workspace/manifest.json",
        R"({"version":1,"tasks":[{"name":"standup","prompt":"Post the standup","schedule":"30 9 * * 1-5"},
                         {"name":"broken","schedule":{"kind":"every","everyMs":10},"payload":{"kind":"systemEvent","text":"x"}}]})");
    {
        gateway g({}, root.path);
        auto jobs = g.get(g.api("/tasks")).json()["jobs"];
        REQUIRE(jobs.size() == 1);
        CHECK(jobs[0]["name"] == "standup");
        CHECK(g.log().find("a manifest task is left out: schedule.everyMs must be at least 60000") !=
              std::string::npos);
        auto detail = g.get(g.api("")).json()["tasks"];
        CHECK(detail["jobs"] == 1);
        CHECK(detail["enabled"] == 1);
        CHECK(detail["nextRunAt"].is_string());
        CHECK(*ag::tasks::parse_iso8601(detail["nextRunAt"].get<std::string>()) ==
              ag::tasks::sys_ms(std::chrono::milliseconds(jobs[0]["state"]["nextRunAtMs"].get<long long>())));
        CHECK(g.request("DELETE", g.api("/tasks/" + jobs[0]["id"].get<std::string>())).status == 200);
        CHECK(g.get(g.api("")).json()["tasks"]["jobs"] == 0);
    }
    // The table is stored now: a later start does not seed it again.
    gateway again({}, root.path);
    CHECK(again.get(again.api("/tasks")).json()["jobs"].empty());
}
