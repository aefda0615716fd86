// Tasks (docs/api.md §14): the job rules, the store, and the scheduler under a test clock — minute-exact
// cases without waiting for real minutes. The deliverer here only records; delivery itself is tested
// against a real HTTP peer (integration) and the real engine (tests/engine).
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "support/temp_dir.hpp"
#include "tasks/clock.hpp"
#include "tasks/scheduler.hpp"
#include "tasks/store.hpp"
#include "tasks/zones.hpp"
#include "util/atomic_file.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <limits>

namespace {

using namespace ag::net;
using namespace ag::tasks;
using nlohmann::json;
using namespace std::chrono_literals;

sys_ms t(const char* iso) {
    auto v = parse_iso8601(iso);
    REQUIRE(v);
    return *v;
}

std::string invalid(const json& body) {
    zones z;
    try {
        make_job(body, z, t("2026-12-01T10:00:00Z"));
    } catch (const invalid_job& e) {
        return e.what();
    }
    return "";
}

// Time moves only when the test says. Setting it wakes the scheduler, as a set wall clock does.
class manual_clock final : public time_source {
public:
    explicit manual_clock(asio::io_context& ioc, sys_ms start)
        : timer_(ioc)
        , now_(start) {}
    sys_ms now() const override { return now_; }
    asio::awaitable<void> sleep_until(sys_ms when) override {
        if (std::exchange(interrupted_, false) || when <= now_)
            co_return;
        sleeps += 1;
        timer_.expires_at(asio::steady_timer::time_point::max());
        co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        interrupted_ = false;
    }
    void interrupt() override {
        asio::post(timer_.get_executor(), [this] {
            interrupted_ = true;
            timer_.cancel();
        });
    }
    void set(sys_ms when) {
        now_ = when;
        interrupt();
    }
    int sleeps = 0;

private:
    asio::steady_timer timer_;
    sys_ms now_;
    bool interrupted_ = false;
};

// Records what it was asked to deliver; holds a run open while `hold` is set.
class recording_deliverer final : public deliverer {
public:
    explicit recording_deliverer(asio::io_context& ioc, const manual_clock& clock)
        : release_(ioc)
        , clock_(clock) {}
    asio::awaitable<outcome> deliver(const job& j, std::chrono::seconds timeout) override {
        delivered.push_back({j.id(), clock_.now(), timeout});
        if (hold) {
            release_.expires_at(asio::steady_timer::time_point::max());
            co_await release_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        co_return answer;
    }
    void abort_all() noexcept override { release_.cancel(); }
    void release() {
        hold = false;
        release_.cancel();
    }
    struct delivery {
        std::string id;
        sys_ms at;
        std::chrono::seconds timeout;
    };
    std::vector<delivery> delivered;
    bool hold = false;
    outcome answer;

private:
    asio::steady_timer release_;
    const manual_clock& clock_;
};

struct fixture {
    explicit fixture(const char* start = "2026-12-01T10:02:30Z")
        : clock(ioc, t(start))
        , out(ioc, clock) {}
    asio::io_context ioc;
    test::temp_dir dir;
    ag::blocking_pool pool{1, 4};
    zones tz;
    store st{dir / "tasks"};
    manual_clock clock;
    recording_deliverer out;
    std::unique_ptr<scheduler> sched;

    scheduler& make(const std::string& manifest = "") {
        sched = std::make_unique<scheduler>(ioc.get_executor(), st, tz, clock, pool, out);
        sched->load(manifest);
        sched->start();
        settle();
        return *sched;
    }
    // Runs the loop until `done` holds (at most 10 s of real time).
    template <class F> bool run_until(F done) {
        auto until = std::chrono::steady_clock::now() + 10s;
        while (!done() && std::chrono::steady_clock::now() < until) {
            ioc.restart();
            ioc.run_for(5ms);
        }
        return done();
    }
    // Lets the scheduler reach its next sleep.
    void settle() {
        int before = clock.sleeps;
        REQUIRE(run_until([&] { return clock.sleeps > before; }));
    }
    void advance(const char* iso) {
        clock.set(t(iso));
        settle();
    }
    void stop() {
        sched->stop();
        REQUIRE(run_until([&] { return sched->stopped(); }));
    }
    ~fixture() {
        if (sched && !sched->stopped())
            stop();
    }
};

json cron_job(const char* expr, const char* name = "j") {
    return {{"name", name},
            {"schedule", {{"kind", "cron"}, {"expr", expr}}},
            {"payload", {{"kind", "systemEvent"}, {"text", "wake up"}}}};
}

std::vector<json> runs_of(fixture& f, const std::string& id) {
    return f.st.runs(id, 100);
}

} // namespace

TEST_CASE("tasks: what the product's CLI sends is taken as sent") {
    zones z;
    auto j = make_job(
        json::parse(R"({"name":"morning","enabled":true,"schedule":{"kind":"cron","expr":"0 9 * * *"},
        "sessionTarget":"main","payload":{"kind":"agentTurn","message":"Summarise the news"}})"),
        z, t("2026-12-01T10:00:00Z"));
    CHECK(j.spec["payload"] == json{{"kind", "agentTurn"}, {"message", "Summarise the news"}});
    CHECK(j.spec["sessionTarget"] == "main");
    CHECK(j.spec["wakeMode"] == "now");
    CHECK(valid_job_id(j.id()));
    CHECK(next_fire(j.when, t("2026-12-01T10:00:00Z")) == t("2026-12-02T09:00:00Z"));
    // The short form of the templates.
    auto s = make_job(json::parse(R"({"name":"n","prompt":"p","schedule":"0 9 * * 1-5","enabled":false,
        "model":{"primary":"m/x"}})"),
                      z, t("2026-12-01T10:00:00Z"));
    CHECK(s.spec["payload"] == json{{"kind", "agentTurn"}, {"message", "p"}, {"model", "m/x"}});
    CHECK(s.spec["enabled"] == false);
    CHECK(s.spec["schedule"] == json{{"kind", "cron"}, {"expr", "0 9 * * 1-5"}});
    // text and message either way.
    auto a =
        make_job(json::parse(R"({"name":"n","schedule":"@daily","payload":{"kind":"agentTurn","text":"x"}})"),
                 z, t("2026-12-01T10:00:00Z"));
    CHECK(a.spec["payload"]["message"] == "x");
    auto w = make_job(
        json::parse(R"({"name":"n","schedule":"@daily","payload":{"kind":"systemEvent","message":"y"}})"), z,
        t("2026-12-01T10:00:00Z"));
    CHECK(w.spec["payload"]["text"] == "y");
}

TEST_CASE("tasks: bad jobs are refused naming the field") {
    auto with = [](json patch) {
        json j = cron_job("0 9 * * *");
        for (auto& [k, v] : patch.items())
            j[k] = v;
        return j;
    };
    CHECK(invalid(json{{"schedule", "@daily"}, {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}}) ==
          "name is required (a non-empty string)");
    CHECK(invalid(with({{"schedule", nullptr}})) == "schedule is required");
    CHECK(invalid(with({{"payload", nullptr}})) == "payload is required");
    CHECK(invalid(with({{"schedule", {{"kind", "every"}, {"everyMs", 59999}}}})) ==
          "schedule.everyMs must be at least 60000: the shortest interval is one minute");
    CHECK(invalid(with({{"schedule", {{"kind", "every"}, {"everyMs", 60000.5}}}})) ==
          "schedule.everyMs must be an integer");
    CHECK(invalid(with({{"schedule", {{"kind", "at"}, {"at", "2026-11-30T10:00:00Z"}}}})) ==
          "schedule.at is in the past");
    CHECK(invalid(with({{"schedule", {{"kind", "at"}, {"at", "tomorrow"}}}}))
              .starts_with("schedule.at must be"));
    CHECK(invalid(with({{"schedule", {{"kind", "cron"}, {"expr", "0 9 * *"}}}})) ==
          "schedule.expr: expected 5 fields (minute hour day-of-month month day-of-week), got 4");
    CHECK(invalid(with({{"schedule", {{"kind", "cron"}, {"expr", "0 9 * * *"}, {"tz", "Nowhere/Land"}}}})) ==
          "schedule.tz: unknown time zone 'Nowhere/Land'");
    CHECK(invalid(with({{"schedule", {{"kind", "cron"}, {"expr", "0 0 30 2 *"}}}})) ==
          "schedule.expr never fires (no such day in eight years)");
    CHECK(invalid(with({{"schedule", {{"kind", "hourly"}}}})) == "schedule.kind must be at, every or cron");
    CHECK(invalid(with({{"payload", {{"kind", "agentTurn"}}}})) ==
          "payload.message is required (a non-empty string)");
    CHECK(invalid(with({{"payload", {{"kind", "shell"}, {"command", "x"}}}})) ==
          "payload.kind must be agentTurn, systemEvent or command");
    CHECK(invalid(with({{"payload", {{"kind", "command"}, {"command", "x"}, {"timeoutSeconds", 0}}}})) ==
          "payload.timeoutSeconds must be from 1 to 3600");
    CHECK(invalid(with({{"id", "a/b"}})) ==
          "id must be URL-safe: letters, digits, '-', '_', '.', '~', at most 64");
    CHECK(invalid(with({{"id", "a%2f"}})).starts_with("id must be URL-safe"));
    CHECK(invalid(with({{"sessionTarget", "elsewhere"}})) == "sessionTarget must be one of main, isolated");
    CHECK(invalid(with({{"delivery", {{"mode", "shout"}}}})) ==
          "delivery.mode must be one of none, announce, webhook");
    CHECK(invalid(with({{"enabled", "yes"}})) == "enabled must be true or false");
}

TEST_CASE("tasks: an at outside the years 2000 to 9999 is refused, however it comes") {
    auto at = [](json when) {
        return json{{"name", "n"},
                    {"schedule", {{"kind", "at"}, {"at", std::move(when)}}},
                    {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}};
    };
    const std::string out_of_range = "schedule.at must be within the years 2000 to 9999";
    // 2^63-1 ms showed as 1969; a uint64 past it wrapped below zero.
    CHECK(invalid(at(std::numeric_limits<std::int64_t>::max())) == out_of_range);
    CHECK(invalid(at(std::numeric_limits<std::uint64_t>::max())) == out_of_range);
    CHECK(invalid(at(std::numeric_limits<std::int64_t>::min())) == out_of_range);
    CHECK(invalid(at(-1)) == out_of_range);
    CHECK(invalid(at(253402300800000)) == out_of_range); // 10000-01-01T00:00:00Z
    CHECK(invalid(at("9999-12-31T23:30:00-01:00")) == out_of_range);
    CHECK(invalid(at("0001-01-01T00:00:00Z")) == out_of_range);
    CHECK(invalid(at("1999-12-31T23:59:59Z")) == out_of_range);
    // Without a kind, `at` alone makes it an at job.
    CHECK(invalid(json{{"name", "n"},
                       {"schedule", {{"at", std::numeric_limits<std::int64_t>::max()}}},
                       {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}}) == out_of_range);
    // The far end of the range is fine, as a string or as ms.
    zones z;
    auto last = make_job(at("9999-12-31T23:59:59Z"), z, t("2026-12-01T10:00:00Z"));
    CHECK(next_fire(last.when, t("2026-12-01T10:00:00Z")) == t("9999-12-31T23:59:59Z"));
    auto ms = make_job(at(253402300799999), z, t("2026-12-01T10:00:00Z"));
    CHECK(next_fire(ms.when, t("2026-12-01T10:00:00Z")) == t("9999-12-31T23:59:59.999Z"));
    // An update is held to the same rule.
    CHECK_THROWS_WITH_AS(update_job(last,
                                    json{{"schedule", {{"at", std::numeric_limits<std::int64_t>::max()}}}}, z,
                                    t("2026-12-01T11:00:00Z")),
                         out_of_range.c_str(), invalid_job);
}

TEST_CASE("tasks: an update changes only the fields it gives") {
    zones z;
    auto j = make_job(
        json::parse(R"({"name":"n","schedule":{"kind":"cron","expr":"0 9 * * *","tz":"Europe/Berlin"},
        "payload":{"kind":"agentTurn","message":"m","model":"a/b"},"delivery":{"mode":"announce","channel":"slack"}})"),
        z, t("2026-12-01T10:00:00Z"));
    auto u = update_job(j, json::parse(R"({"payload":{"message":"changed"}})"), z, t("2026-12-01T11:00:00Z"));
    CHECK(u.spec["payload"] == json{{"kind", "agentTurn"}, {"message", "changed"}, {"model", "a/b"}});
    CHECK(u.spec["schedule"] == j.spec["schedule"]);
    CHECK(u.spec["delivery"] == j.spec["delivery"]);
    CHECK(u.spec["createdAtMs"] == j.spec["createdAtMs"]);
    CHECK(u.spec["updatedAtMs"] == t("2026-12-01T11:00:00Z").time_since_epoch().count());
    auto v = update_job(u, json::parse(R"({"schedule":{"expr":"30 7 * * *"},"name":"renamed"})"), z,
                        t("2026-12-01T11:00:00Z"));
    CHECK(v.spec["schedule"] == json{{"kind", "cron"}, {"expr", "30 7 * * *"}, {"tz", "Europe/Berlin"}});
    CHECK(v.spec["name"] == "renamed");
    // A different kind replaces the payload whole.
    auto w = update_job(v, json::parse(R"({"payload":{"kind":"systemEvent","text":"t"}})"), z,
                        t("2026-12-01T11:00:00Z"));
    CHECK(w.spec["payload"] == json{{"kind", "systemEvent"}, {"text", "t"}});
    CHECK_THROWS_AS(update_job(w, json::parse(R"({"schedule":{"kind":"every","everyMs":1000}})"), z,
                               t("2026-12-01T11:00:00Z")),
                    invalid_job);
    CHECK_THROWS_AS(update_job(w, json::parse(R"({"id":"other"})"), z, t("2026-12-01T11:00:00Z")),
                    invalid_job);
}

TEST_CASE("tasks: the history keeps the newest 100 and ignores a torn last line") {
    test::temp_dir dir;
    store st(dir / "tasks");
    REQUIRE(!st.load_jobs());
    for (int i = 0; i < 250; ++i) {
        run r;
        r.id = "r" + std::to_string(i);
        r.job_id = "job";
        r.trigger = "schedule";
        r.status = "ok";
        st.append_run(r);
    }
    auto newest = st.runs("job", 1000);
    REQUIRE(newest.size() == 100);
    CHECK(newest.front()["id"] == "r249");
    CHECK(newest.back()["id"] == "r150");
    std::ifstream in(dir / "tasks/runs/job.jsonl");
    std::size_t lines = 0;
    for (std::string l; std::getline(in, l);)
        ++lines;
    CHECK(lines <= 200);
    // A kill in the middle of an append leaves a line without its end: it is not a run, and the next
    // append starts a line of its own.
    {
        std::ofstream torn(dir / "tasks/runs/job.jsonl", std::ios::app);
        torn << R"({"id":"torn","jobId":"job","sta)";
    }
    CHECK(st.runs("job", 1).front()["id"] == "r249");
    run r;
    r.id = "after";
    r.job_id = "job";
    r.trigger = "manual";
    r.status = "ok";
    st.append_run(r);
    CHECK(st.runs("job", 2).front()["id"] == "after");
    CHECK(st.runs("job", 2).back()["id"] == "r249");
}

TEST_CASE("scheduler: a cron job fires at its minute, not before, and moves on") {
    fixture f;
    auto& s = f.make();
    auto j = s.create(cron_job("*/5 * * * *"));
    std::string id = j["id"];
    CHECK(j["state"]["nextRunAtMs"] == t("2026-12-01T10:05:00Z").time_since_epoch().count());
    f.advance("2026-12-01T10:04:59.999Z");
    CHECK(f.out.delivered.empty());
    f.advance("2026-12-01T10:05:00Z");
    REQUIRE(f.run_until([&] { return runs_of(f, id).size() == 1; }));
    REQUIRE(f.out.delivered.size() == 1);
    CHECK(f.out.delivered[0].at == t("2026-12-01T10:05:00Z"));
    CHECK(f.out.delivered[0].timeout == 300s);
    auto r = runs_of(f, id)[0];
    CHECK(r["status"] == "ok");
    CHECK(r["trigger"] == "schedule");
    CHECK(r["startedAt"] == "2026-12-01T10:05:00.000Z");
    auto now = s.get(id);
    CHECK((*now)["state"]["nextRunAtMs"] == t("2026-12-01T10:10:00Z").time_since_epoch().count());
    CHECK((*now)["state"]["lastStatus"] == "ok");
    CHECK((*now)["state"]["lastRunAtMs"] == t("2026-12-01T10:05:00Z").time_since_epoch().count());
}

TEST_CASE("scheduler: an every job fires each interval; an at job once, then it is disabled") {
    fixture f("2026-12-01T10:00:00Z");
    auto& s = f.make();
    std::string every = s.create(json{{"name", "e"},
                                      {"schedule", {{"kind", "every"}, {"everyMs", 90000}}},
                                      {"payload", {{"kind", "systemEvent"}, {"text", "x"}}}})["id"];
    std::string once =
        s.create(json{{"name", "a"},
                      {"schedule", {{"kind", "at"}, {"at", "2026-12-01T11:02:00+01:00"}}},
                      {"payload", {{"kind", "agentTurn"}, {"message", "x"}, {"timeoutSeconds", 30}}}})["id"];
    f.advance("2026-12-01T10:01:30Z");
    REQUIRE(f.run_until([&] { return f.out.delivered.size() == 1; }));
    CHECK(f.out.delivered[0].id == every);
    f.advance("2026-12-01T10:02:00Z");
    REQUIRE(f.run_until([&] { return f.out.delivered.size() == 2; }));
    CHECK(f.out.delivered[1].id == once);
    CHECK(f.out.delivered[1].timeout == 30s);
    f.advance("2026-12-01T10:03:00Z");
    REQUIRE(f.run_until([&] { return f.out.delivered.size() == 3; }));
    CHECK(f.out.delivered[2].id == every);
    REQUIRE(f.run_until([&] { return runs_of(f, once).size() == 1; }));
    auto a = *s.get(once);
    CHECK(a["enabled"] == false);
    CHECK(a["state"]["nextRunAtMs"].is_null());
    CHECK(s.list(false).size() == 1);
    CHECK(s.list(true).size() == 2);
}

TEST_CASE("scheduler: a job whose previous run is still going records skipped") {
    fixture f("2026-12-01T10:00:30Z");
    auto& s = f.make();
    std::string id = s.create(cron_job("* * * * *"))["id"];
    f.out.hold = true;
    f.advance("2026-12-01T10:01:00Z");
    REQUIRE(f.run_until([&] { return f.out.delivered.size() == 1; }));
    f.advance("2026-12-01T10:02:00Z");
    REQUIRE(f.run_until([&] { return runs_of(f, id).size() == 1; }));
    auto skipped = runs_of(f, id)[0];
    CHECK(skipped["status"] == "skipped");
    CHECK(skipped["error"] == "the previous run is still going");
    CHECK(f.out.delivered.size() == 1);
    f.out.release();
    REQUIRE(f.run_until([&] { return runs_of(f, id).size() == 2; }));
    CHECK(runs_of(f, id)[0]["status"] == "ok");
    CHECK((*s.get(id))["state"]["nextRunAtMs"] == t("2026-12-01T10:03:00Z").time_since_epoch().count());
}

TEST_CASE("scheduler: runs missed while the daemon was down are skipped, and the next fires on time") {
    fixture f("2026-12-01T10:02:30Z");
    std::string id = f.make().create(cron_job("*/5 * * * *"))["id"];
    f.stop();
    f.sched.reset();
    // Down from 10:02:30 to 10:31:10: 10:05 … 10:30 were missed.
    f.clock.set(t("2026-12-01T10:31:10Z"));
    auto& s = f.make();
    auto runs = runs_of(f, id);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "skipped");
    CHECK(runs[0]["error"] == "missed: the daemon was not running at 2026-12-01T10:05:00.000Z");
    CHECK(f.out.delivered.empty());
    CHECK((*s.get(id))["state"]["nextRunAtMs"] == t("2026-12-01T10:35:00Z").time_since_epoch().count());
    f.advance("2026-12-01T10:35:00Z");
    REQUIRE(f.run_until([&] { return f.out.delivered.size() == 1; }));
    CHECK(f.out.delivered[0].at == t("2026-12-01T10:35:00Z"));
}

TEST_CASE("scheduler: the wall clock jumps forward, and back") {
    fixture f("2026-12-01T10:02:30Z");
    auto& s = f.make();
    std::string id = s.create(cron_job("*/5 * * * *"))["id"];
    // A day forward: 10:05 yesterday is not run a day late; the next is five minutes from the new now.
    f.advance("2026-12-02T10:07:00Z");
    REQUIRE(f.run_until([&] { return runs_of(f, id).size() == 1; }));
    CHECK(runs_of(f, id)[0]["status"] == "skipped");
    CHECK(runs_of(f, id)[0]["error"] == "missed: the clock passed 2026-12-01T10:05:00.000Z by 86520 s");
    CHECK(f.out.delivered.empty());
    CHECK((*s.get(id))["state"]["nextRunAtMs"] == t("2026-12-02T10:10:00Z").time_since_epoch().count());
    // An hour back: the next fire is recomputed from the new now, not left an hour away.
    f.advance("2026-12-02T09:08:00Z");
    CHECK((*s.get(id))["state"]["nextRunAtMs"] == t("2026-12-02T09:10:00Z").time_since_epoch().count());
    f.advance("2026-12-02T09:10:00Z");
    REQUIRE(f.run_until([&] { return f.out.delivered.size() == 1; }));
}

TEST_CASE("scheduler: the table and its states survive a restart; the manifest seeds only the first start") {
    fixture f("2026-12-01T10:00:00Z");
    auto& s = f.make(R"([{"name":"from manifest","schedule":"0 9 * * *","prompt":"hello"},
                         {"name":"broken","schedule":"99 * * * *","prompt":"x"}])");
    auto jobs = s.list(true);
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0]["name"] == "from manifest");
    std::string id = s.create(cron_job("@hourly", "mine"))["id"];
    CHECK(s.remove(jobs[0]["id"].get<std::string>()));
    f.stop();
    f.sched.reset();
    auto& again = f.make(R"([{"name":"from manifest","schedule":"0 9 * * *","prompt":"hello"}])");
    REQUIRE(again.list(true).size() == 1);
    CHECK(again.list(true)[0]["id"] == id);
    // At most 20.
    for (int i = 1; i < 20; ++i)
        again.create(cron_job("@daily"));
    CHECK_THROWS_WITH_AS(again.create(cron_job("@daily")), "at most 20 tasks (delete one first)",
                         invalid_job);
    auto named = cron_job("@daily");
    named["id"] = id;
    CHECK(again.remove(again.list(true)[1]["id"].get<std::string>()));
    CHECK_THROWS_AS(again.create(named), duplicate_job);
}

TEST_CASE(
    "scheduler: a run is recorded whatever its texts, cut at a character boundary, and its state kept") {
    fixture f("2026-12-01T10:00:00Z");
    auto& s = f.make();
    std::string id = s.create(cron_job("@daily"))["id"];
    // 16383 ASCII bytes, then a 3-byte character across the 16 KiB cut; an error cut inside a character
    // (the engine's answer, clipped) and a byte that is no UTF-8 at all.
    const std::string euro = "\xE2\x82\xAC", fffd = "\xEF\xBF\xBD";
    f.out.answer = {"error", "the engine answered 500: caf\xC3", std::string(16383, 'x') + euro + "tail\xFF"};
    std::optional<std::optional<json>> got;
    asio::co_spawn(
        f.ioc, [&]() -> asio::awaitable<void> { got = co_await s.run_now(id); }, asio::detached);
    REQUIRE(f.run_until([&] { return got.has_value(); }));
    REQUIRE(*got);
    CHECK((**got)["output"] == std::string(16383, 'x'));
    CHECK((**got)["error"] == "the engine answered 500: caf" + fffd);
    auto runs = runs_of(f, id);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "error");
    CHECK(runs[0]["output"] == std::string(16383, 'x'));
    CHECK(runs[0]["error"] == "the engine answered 500: caf" + fffd);
    auto state = (*s.get(id))["state"];
    CHECK(state["lastStatus"] == "error");
    CHECK(state["lastError"] == "the engine answered 500: caf" + fffd);
    CHECK(state["consecutiveErrors"] == 1);
    // Output that fits keeps its characters; the bad byte becomes U+FFFD.
    f.out.answer = {"ok", std::nullopt, "caf\xC3\xA9 " + euro + " \xFF"};
    got.reset();
    asio::co_spawn(
        f.ioc, [&]() -> asio::awaitable<void> { got = co_await s.run_now(id); }, asio::detached);
    REQUIRE(f.run_until([&] { return got.has_value(); }));
    REQUIRE(runs_of(f, id).size() == 2);
    CHECK(runs_of(f, id)[0]["output"] == "caf\xC3\xA9 " + euro + " " + fffd);
    CHECK((*s.get(id))["state"]["lastStatus"] == "ok");
    CHECK((*s.get(id))["state"]["consecutiveErrors"] == 0);
}

TEST_CASE("scheduler: run now returns the run; stop ends a run under way") {
    fixture f("2026-12-01T10:00:00Z");
    auto& s = f.make();
    std::string id = s.create(cron_job("@daily"))["id"];
    f.out.answer = {"error", "the engine answered 401: Unauthorized", std::nullopt};
    std::optional<std::optional<json>> got;
    asio::co_spawn(
        f.ioc, [&]() -> asio::awaitable<void> { got = co_await s.run_now(id); }, asio::detached);
    REQUIRE(f.run_until([&] { return got.has_value(); }));
    REQUIRE(*got);
    CHECK((**got)["status"] == "error");
    CHECK((**got)["trigger"] == "manual");
    CHECK((**got)["error"] == "the engine answered 401: Unauthorized");
    CHECK((*s.get(id))["state"]["consecutiveErrors"] == 1);
    got.reset();
    asio::co_spawn(
        f.ioc, [&]() -> asio::awaitable<void> { got = co_await s.run_now("nope"); }, asio::detached);
    REQUIRE(f.run_until([&] { return got.has_value(); }));
    CHECK(!*got);
    f.out.hold = true;
    f.out.answer = {"error", "stopped", std::nullopt};
    got.reset();
    asio::co_spawn(
        f.ioc, [&]() -> asio::awaitable<void> { got = co_await s.run_now(id); }, asio::detached);
    REQUIRE(f.run_until([&] { return f.out.delivered.size() == 2; }));
    f.stop();
    REQUIRE(got);
    CHECK((**got)["error"] == "the daemon stopped during the run (stopped)");
}
