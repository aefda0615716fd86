// The engine's config, channels and devices (docs/api.md §15) through the real daemon. The engine's own
// CLI is the real OpenClaw in tests/engine; here a stand-in (tests/support/engine_cli.sh) shows refusals,
// failures and a CLI that hangs.
#include "settings/config_file.hpp"
#include "support/gateway.hpp"
#include "support/kill.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>

using nlohmann::json;
using test::gateway;

namespace {

test::http_result put_json(const gateway& g, const std::string& path, const json& body) {
    return g.request("PUT", g.api(path), body.dump(), {{"Content-Type", "application/json"}});
}

std::vector<std::string> leftovers(const std::string& dir, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().starts_with(prefix))
            out.push_back(e.path().filename());
    return out;
}

} // namespace

TEST_CASE("settings: without --engine-config or --engine-cli the routes are 404") {
    gateway d;
    CHECK(d.get(d.api("/config")).status == 404);
    CHECK(d.post(d.api("/config/validate"), json::object()).status == 404);
    CHECK(d.get(d.api("/channels")).status == 404);
    CHECK(d.get(d.api("/devices")).status == 404);
    CHECK(d.get(d.api("/devices")).json()["error"] == "No engine CLI (start the daemon with --engine-cli)");
}

TEST_CASE("settings: a JSON5 config is read as JSON5, written as JSON, the old text kept; bad ones refused") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    const std::string text = "// the operator's\n{gateway: {mode: 'local', port: 18790,},}\n";
    test::write_file(path, text);
    gateway d({"--engine-config", path}, root.path);
    std::string written = test::read_file(path); // trustedProxies added at start
    auto got = d.get(d.api("/config")).json();
    CHECK(got["format"] == "json");
    CHECK(got["path"] == path);
    CHECK(got["raw"] == written);
    CHECK(got["config"]["gateway"]["port"] == 18790);

    // Refusals change nothing.
    for (const auto& [body, message] : std::vector<std::pair<json, std::string>>{
             {json{{"raw", "{gateway: {port: }"}}, "Invalid config: line 1, column "},
             {json{{"raw", "[1, 2]"}}, "Invalid config: the config must be an object at the top"},
             {json{{"config", "text"}}, "Invalid config: config must be an object"},
             {json::object(), "Invalid config: send either config"},
             {json{{"config", json::object()}, {"raw", "{}"}}, "Invalid config: send either config"}}) {
        auto r = put_json(d, "/config", body);
        CHECK(r.status == 400);
        std::string error = r.json()["error"];
        CHECK_MESSAGE(error.starts_with(message), r.body);
        CHECK(test::read_file(path) == written);
    }

    auto put = put_json(d, "/config", json{{"config", {{"gateway", {{"mode", "local"}, {"port", 18791}}}}}});
    REQUIRE(put.status == 200);
    CHECK(put.json() == json{{"success", true}});
    CHECK(json::parse(test::read_file(path)) == json::parse(R"({"gateway":{"mode":"local","port":18791}})"));
    CHECK(test::read_file(path + ".bak") == written);
    // Raw text is written as given, comments and all.
    REQUIRE(put_json(d, "/config", json{{"raw", "// mine\n{a: 1}\n"}}).status == 200);
    CHECK(test::read_file(path) == "// mine\n{a: 1}\n");
    CHECK(d.get(d.api("/config")).json()["config"] == json{{"a", 1}});

    auto validate = [&](const json& body) { return d.post(d.api("/config/validate"), body).json(); };
    CHECK(validate(json::object()) == json{{"valid", true}, {"output", ""}});
    CHECK(validate(json{{"config", "{a: 1,,}"}})["valid"] == false);
    CHECK(validate(json{{"config", "{a: 1,,}"}})["output"].get<std::string>().find("line 1") !=
          std::string::npos);
    CHECK(validate(json{{"config", {{"b", 2}}}})["valid"] == true);
    CHECK(d.post(d.api("/config/validate"), json{{"config", 5}}).status == 400);
    CHECK(test::read_file(path) == "// mine\n{a: 1}\n");

    // An operator's edit that broke the file: reads say so.
    test::write_file(path, "{broken");
    auto broken = d.get(d.api("/config"));
    CHECK(broken.status == 500);
    CHECK(broken.json()["error"].get<std::string>().starts_with("The engine config on disk is not valid"));
    CHECK(validate(json::object())["valid"] == false);
}

TEST_CASE("settings: a YAML config round-trips as YAML") {
    test::temp_dir root;
    const std::string path = root / "config.yaml";
    test::write_file(path, "model:\n  name: hermes\n  retries: 3\n");
    gateway d({"--engine-config", path}, root.path);
    auto got = d.get(d.api("/config")).json();
    CHECK(got["format"] == "yaml");
    CHECK(got["config"] == json::parse(R"({"model":{"name":"hermes","retries":3}})"));
    json next = json::parse(R"({"model":{"name":"123","retries":4,"tags":["yes","no"]}})");
    REQUIRE(put_json(d, "/config", json{{"config", next}}).status == 200);
    CHECK(ag::settings::parse(test::read_file(path), ag::settings::format::yaml) == next);
    CHECK(test::read_file(path + ".bak") == "model:\n  name: hermes\n  retries: 3\n");
    CHECK(put_json(d, "/config", json{{"raw", "model: [1, 2\n"}}).status == 400);
}

TEST_CASE("settings: channels are configured in the config, tokens never shown whole") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    test::write_file(path, R"({"gateway":{"mode":"local"}})");
    const std::string bot = "7777777:AAAAsecretTELEGRAMtoken";
    gateway d({"--engine-config", path}, root.path);
    CHECK(d.post(d.api("/channels/irc"), json{{"botToken", "x"}}).json()["error"] == "Unsupported channel");
    CHECK(d.post(d.api("/channels/telegram"), json::object()).status == 400);
    CHECK(d.post(d.api("/channels/slack"), json{{"botToken", "xoxb-1"}}).status == 400);
    auto before = test::read_file(path);
    CHECK(d.post(d.api("/channels/telegram"), json{{"botToken", bot}, {"dmPolicy", "nobody"}}).status == 400);
    CHECK(test::read_file(path) == before);

    auto set = d.post(d.api("/channels/telegram?skipRestart=true"),
                      json{{"botToken", bot}, {"dmPolicy", "allowlist"}, {"allowFrom", {"42"}}});
    REQUIRE(set.status == 200);
    CHECK(set.json()["message"] == "telegram configured; restart skipped");
    CHECK(json::parse(test::read_file(path))["channels"]["telegram"]["botToken"] == bot);
    // Without a supervised engine there is nothing to restart; the answer says so.
    auto discord = d.post(d.api("/channels/discord"), json{{"botToken", "discord-secret-token-1"}});
    CHECK(discord.json()["message"] == "discord configured; no supervised engine to restart");
    CHECK(json::parse(test::read_file(path))["channels"]["discord"]["token"] == "discord-secret-token-1");

    auto status = d.get(d.api("/channels"));
    REQUIRE(status.status == 200);
    auto s = status.json();
    CHECK(s["telegram"]["botTokenSet"] == true);
    CHECK(s["telegram"]["botTokenHint"] == "…oken");
    CHECK(s["telegram"]["allowFrom"] == json{"42"});
    CHECK(s["discord"]["botTokenHint"] == "…en-1");
    CHECK(s["slack"]["configured"] == false);
    CHECK(status.body.find(bot) == std::string::npos);

    // A blank token keeps the old one.
    REQUIRE(d.post(d.api("/channels/telegram?skipRestart=true"), json{{"botToken", ""}, {"enabled", false}})
                .status == 200);
    CHECK(json::parse(test::read_file(path))["channels"]["telegram"]["botToken"] == bot);
    CHECK(d.get(d.api("/channels")).json()["telegram"]["enabled"] == false);

    CHECK(d.request("DELETE", d.api("/channels/telegram?skipRestart=true")).json()["message"] ==
          "telegram removed; restart skipped");
    CHECK(d.request("DELETE", d.api("/channels/telegram")).json()["message"] ==
          "telegram was not configured");
    CHECK_FALSE(json::parse(test::read_file(path))["channels"].contains("telegram"));
    CHECK(d.log().find(bot) == std::string::npos);
    CHECK(d.log().find("discord-secret-token-1") == std::string::npos);
}

TEST_CASE("settings: the engine's own check refuses a PUT; its CLI lists and approves devices") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    test::write_file(path, R"({"gateway":{"mode":"local"}})");
    gateway d({"--engine-config", path, "--engine-cli", TEST_ENGINE_CLI}, root.path);
    auto before = test::read_file(path);
    auto refused = put_json(d, "/config", json{{"config", {{"note", "refuse-me"}}}});
    CHECK(refused.status == 400);
    CHECK(refused.json()["error"] ==
          "Invalid config: gateway.port: Invalid input: expected number in the config");
    CHECK(test::read_file(path) == before);
    auto checked = d.post(d.api("/config/validate"), json{{"config", R"({"note":"refuse-me"})"}}).json();
    CHECK(checked ==
          json{{"valid", false}, {"output", "gateway.port: Invalid input: expected number in the config"}});
    CHECK(put_json(d, "/config", json{{"config", {{"gateway", {{"mode", "local"}}}, {"ok", true}}}}).status ==
          200);
    CHECK(leftovers(root / ".agent-gateway", "engine-config-check-").empty());

    auto devices = d.get(d.api("/devices"));
    REQUIRE(devices.status == 200);
    CHECK(devices.json()["pending"].size() == 2);
    auto one = d.request("POST", d.api("/devices/r-1/approve"));
    CHECK(one.json() == json{{"success", true}, {"requestId", "r-1"}, {"message", "Approved d-1 (r-1)"}});
    auto bad = d.request("POST", d.api("/devices/r-fail/approve"));
    CHECK(bad.status == 500);
    CHECK(bad.json()["error"] == "CLI error: No pending device request matches r-fail.");
    CHECK(d.request("POST", d.api("/devices/r%3Bid/approve")).status == 400); // r;id: nothing for a shell
    // Never an option to the CLI: a letter or digit first, and after `--` all the same.
    for (const char* id : {"--help", "-x", ".r", "_r"}) {
        auto option = d.request("POST", d.api("/devices/" + std::string(id) + "/approve"));
        CHECK_MESSAGE(option.status == 400, id);
        CHECK(option.json()["error"] == "Invalid parameters: not a device request id");
    }
    auto all = d.request("POST", d.api("/devices/approve-all")).json();
    CHECK(all["approved"] == json{"r-1"});
    CHECK(all["failed"][0]["requestId"] == "r-fail");
    CHECK(all["message"] == "Approved 1 of 2 pending device(s)");
}

TEST_CASE("settings: a CLI that fails is a 500 with what it said") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    test::write_file(path, R"({"a":1})");
    gateway d({"--engine-config", path, "--engine-cli", "echo 'the gateway is down' >&2; exit 1; :"},
              root.path);
    auto r = d.get(d.api("/devices"));
    CHECK(r.status == 500);
    CHECK(r.json()["error"] == "CLI error: the gateway is down");
    auto put = put_json(d, "/config", json{{"config", {{"a", 2}}}});
    CHECK(put.status == 500);
    CHECK(json::parse(test::read_file(path)) == json{{"a", 1}});
}

TEST_CASE("settings: a config PUT survives kill -9 at any point: the old file or the new, never half") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    test::write_file(path, R"({"round":-1})");
    std::mt19937 rng(20261203);
    long long put_us = 0;
    {
        gateway g({"--engine-config", path}, root.path);
        put_us = test::microseconds_of([&] { put_json(g, "/config", json{{"config", {{"round", -1}}}}); });
    }
    int last = -1;
    for (int round = 0; round < 12; ++round) {
        gateway g({"--engine-config", path}, root.path);
        auto now = json::parse(test::read_file(path))["round"].get<int>();
        CHECK((now == last || now == round - 1));
        last = now;
        test::kill_during(g, std::chrono::microseconds(rng() % (2 * put_us + 1)), [&] {
            put_json(g, "/config", json{{"config", {{"round", round}, {"pad", std::string(200000, 'x')}}}});
        });
        auto text = test::read_file(path);
        CHECK(json::accept(text));
    }
    gateway g({"--engine-config", path}, root.path);
    CHECK(leftovers(root.path, "openclaw.json.tmp-").empty());
}

namespace {

// Everything a plain-JSON rewrite loses: comments, unquoted keys, single quotes, trailing commas, Infinity,
// NaN, a hexadecimal number, a '+', and an integer no double holds.
const std::string operators_file = R"(// OpenClaw config, written by hand
{
  gateway: {
    mode: 'local', // single quotes
    port: 18790,
    trustedProxies: ['10.0.0.1',],
  },
  limits: {max: Infinity, ratio: NaN, big: 12345678901234567890, hex: 0x1F, plus: +1,},
  "quoted": 'v', /* the last */
}
)";

// `after` is `before` with `old_part` (found once in it) replaced: the bytes before and after it are the
// same.
void only_replaced(const std::string& before, const std::string& after, const std::string& old_part) {
    auto at = before.find(old_part);
    REQUIRE(at != std::string::npos);
    auto rest = before.size() - at - old_part.size();
    REQUIRE(after.size() >= at + rest);
    CHECK(after.substr(0, at) == before.substr(0, at));
    CHECK(after.substr(after.size() - rest) == before.substr(at + old_part.size()));
}

json json5_of(const std::string& text) {
    return ag::settings::parse(text, ag::settings::format::json5);
}

// {"config": {"a": {"a": … }}} nested `n` deep, written by hand (a recursive writer would be what is tested).
std::string deep_body(std::size_t n) {
    std::string body = R"({"config":)";
    for (std::size_t i = 0; i < n; ++i)
        body += R"({"a":)";
    body += "1";
    body += std::string(n, '}');
    return body + "}";
}

} // namespace

TEST_CASE(
    "settings: the start-up trustedProxies edit and channel writes keep every other byte of a JSON5 file") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    test::write_file(path, operators_file);
    gateway d({"--engine-config", path}, root.path);

    // At start: only the trustedProxies value changed.
    std::string started = test::read_file(path);
    only_replaced(operators_file, started, "['10.0.0.1',]");
    json v = json5_of(started);
    CHECK(v["gateway"]["trustedProxies"] == json{"10.0.0.1", "127.0.0.1", "::1"});
    CHECK(v["limits"]["big"] == 12345678901234567890ULL);
    CHECK(std::isinf(v["limits"]["max"].get<double>()));
    CHECK(std::isnan(v["limits"]["ratio"].get<double>()));
    CHECK(test::read_file(path + ".bak") == operators_file);

    // A channel: a new section after the last member; nothing else moves.
    const std::string bot = "7777777:AAAAsecretTELEGRAMtoken";
    REQUIRE(d.post(d.api("/channels/telegram?skipRestart=true"), json{{"botToken", bot}}).status == 200);
    std::string configured = test::read_file(path);
    std::string last = "/* the last */";
    auto at = started.find(last) + last.size();
    CHECK(configured.substr(0, at) == started.substr(0, at));
    CHECK(configured.ends_with(started.substr(at)));
    CHECK(json5_of(configured)["channels"]["telegram"]["botToken"] == bot);
    CHECK(json5_of(configured)["limits"]["big"] == 12345678901234567890ULL);

    // A second change edits a key inside the section; a DELETE takes the section and only it.
    REQUIRE(d.post(d.api("/channels/telegram?skipRestart=true"), json{{"enabled", false}}).status == 200);
    std::string changed = test::read_file(path);
    CHECK(changed.substr(0, at) == started.substr(0, at));
    CHECK(json5_of(changed)["channels"]["telegram"]["enabled"] == false);
    REQUIRE(d.request("DELETE", d.api("/channels/telegram?skipRestart=true")).status == 200);
    std::string removed = test::read_file(path);
    CHECK(removed.substr(0, at) == started.substr(0, at));
    CHECK(removed.ends_with(started.substr(at)));
    CHECK(json5_of(removed)["channels"] == json::object());
    CHECK(d.log().find(bot) == std::string::npos);
}

TEST_CASE("settings: a config nested 12,000 deep is refused at once, before any render; nothing written") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    test::write_file(path, R"({"gateway":{"mode":"local"}})");
    gateway d({"--engine-config", path}, root.path);
    const std::string before = test::read_file(path);
    const std::string body = deep_body(12000);
    CHECK(body.size() < 100 * 1024);
    test::http_result r;
    long long us = test::microseconds_of([&] {
        r = d.request("PUT", d.api("/config"), body, {{"Content-Type", "application/json"}});
    });
    CHECK(r.status == 400);
    CHECK(r.json()["error"] == "Invalid config: nested deeper than 256 levels");
    MESSAGE("refused in " << us / 1000
                          << " ms (the old daemon rendered ~480 MB first)"); // a figure, not a bound
    auto validate =
        d.request("POST", d.api("/config/validate"), body, {{"Content-Type", "application/json"}});
    CHECK(validate.status == 400);
    CHECK(validate.json()["error"] == "Invalid config: nested deeper than 256 levels");
    // As raw text, JSON5 or not.
    auto raw = put_json(d, "/config", json{{"raw", std::string(12000, '[') + std::string(12000, ']')}});
    CHECK(raw.status == 400);
    CHECK(raw.json()["error"] == "Invalid config: nested deeper than 256 levels");
    // Not too deep, but hundreds of times larger once indented: refused before it is written out.
    std::string wide = R"({"config":)";
    for (int i = 0; i < 250; ++i)
        wide += R"({"a":)";
    wide += "[0";
    for (int i = 0; i < 50000; ++i)
        wide += ",0";
    wide += "]" + std::string(250, '}') + "}";
    auto indented = d.request("PUT", d.api("/config"), wide, {{"Content-Type", "application/json"}});
    CHECK(indented.status == 400);
    CHECK(indented.json()["error"] == "Invalid config: larger than 1 MiB once written");
    CHECK(test::read_file(path) == before);
    // 256 levels are a config like any other.
    REQUIRE(
        d.request("PUT", d.api("/config"), deep_body(256), {{"Content-Type", "application/json"}}).status ==
        200);
    CHECK(d.get(d.api("/config")).status == 200);
}

TEST_CASE("settings: a config body over 1 MiB is bad input (400) before it is read; nothing written") {
    test::temp_dir root;
    const std::string path = root / "openclaw.json";
    test::write_file(path, R"({"gateway":{"mode":"local"}})");
    gateway d({"--engine-config", path}, root.path);
    const std::string before = test::read_file(path); // after the start-up edit of §10
    const std::string body = json{{"raw", std::string(1024 * 1024 + 10, ' ') + "{}"}}.dump();
    auto r = d.request("PUT", d.api("/config"), body, {{"Content-Type", "application/json"}});
    CHECK(r.status == 400);
    CHECK(r.json()["error"] == "Invalid config: larger than 1 MiB");
    CHECK(test::read_file(path) == before);
}

TEST_CASE("settings: a YAML alias bomb is refused before it is expanded, and never written") {
    test::temp_dir root;
    const std::string path = root / "config.yaml";
    test::write_file(path, "model:\n  name: hermes\n");
    gateway d({"--engine-config", path}, root.path);
    std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n";
    for (char c = 'b'; c <= 'f'; ++c) { // a million nodes from some 230 bytes
        bomb += std::string(1, c) + ": &" + c + " [";
        for (int k = 0; k < 10; ++k)
            bomb += std::string(k ? "," : "") + "*" + static_cast<char>(c - 1);
        bomb += "]\n";
    }
    CHECK(bomb.size() < 400);
    test::http_result r;
    long long us = test::microseconds_of([&] { r = put_json(d, "/config", json{{"raw", bomb}}); });
    CHECK(r.status == 400);
    CHECK_MESSAGE(r.json()["error"].get<std::string>().find(
                      "more than 100000 nodes once its aliases are expanded") != std::string::npos,
                  r.body);
    MESSAGE("refused in " << us / 1000 << " ms"); // a figure, not a bound
    CHECK(test::read_file(path) == "model:\n  name: hermes\n");
    CHECK(d.post(d.api("/config/validate"), json{{"config", bomb}}).status == 400);
    // One already on disk (an operator's edit) is not expanded by reads either.
    test::write_file(path, bomb);
    auto read = d.get(d.api("/config"));
    CHECK(read.status == 500);
    CHECK(read.json()["error"].get<std::string>().find("more than 100000 nodes") != std::string::npos);
    CHECK(d.post(d.api("/channels/telegram"), json{{"botToken", "t-0123456789"}}).status == 500);
    CHECK(test::read_file(path) == bomb);
}

TEST_CASE("settings: a config path that is a symbolic link is written through; the link stays") {
    test::temp_dir root;
    std::filesystem::create_directories(root / "real");
    const std::string target = root / "real/openclaw.json";
    const std::string link = root / "openclaw.json";
    test::write_file(target, "{gateway: {mode: 'local'}}\n");
    std::filesystem::create_symlink("real/openclaw.json", link);
    gateway d({"--engine-config", link}, root.path);
    // The start-up edit went through the link.
    CHECK(std::filesystem::is_symlink(link));
    CHECK(json5_of(test::read_file(target))["gateway"]["trustedProxies"] == json{"127.0.0.1", "::1"});
    std::string started = test::read_file(target);

    REQUIRE(put_json(d, "/config", json{{"config", {{"gateway", {{"mode", "remote"}}}}}}).status == 200);
    CHECK(std::filesystem::is_symlink(link));
    CHECK(json::parse(test::read_file(target)) == json{{"gateway", {{"mode", "remote"}}}});
    CHECK(test::read_file(target + ".bak") == started);
    CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(link + ".bak")));
    CHECK(d.get(d.api("/config")).json()["config"]["gateway"]["mode"] == "remote");
    CHECK(leftovers(root / "real", "openclaw.json.tmp-").empty());
}

TEST_CASE(
    "settings: in a YAML config of block mappings the start-up and channel edits keep the other lines") {
    test::temp_dir root;
    const std::string path = root / "config.yaml";
    const std::string text =
        "# mine\ngateway:\n  mode: local   # as set up\nmodel: &m {name: hermes}\nbackup: *m\n";
    test::write_file(path, text);
    gateway d({"--engine-config", path}, root.path);
    std::string started = test::read_file(path);
    CHECK(started == "# mine\ngateway:\n  mode: local   # as set up\n  trustedProxies:\n    - \"127.0.0.1\"\n"
                     "    - \"::1\"\nmodel: &m {name: hermes}\nbackup: *m\n");
    REQUIRE(d.post(d.api("/channels/discord?skipRestart=true"), json{{"botToken", "discord-secret-token-1"}})
                .status == 200);
    CHECK(test::read_file(path) ==
          started + "channels:\n  \"discord\":\n    \"token\": \"discord-secret-token-1\"\n");
    REQUIRE(d.request("DELETE", d.api("/channels/discord?skipRestart=true")).status == 200);
    CHECK(test::read_file(path) == started + "channels: {}\n");
    CHECK(d.get(d.api("/config")).json()["config"]["backup"] == json{{"name", "hermes"}});
}
