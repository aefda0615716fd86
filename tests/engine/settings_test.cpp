// The engine's settings against the real engine (docs/api.md §15): OpenClaw's own openclaw.json read and
// written through the daemon (the engine's log shows it applied the change), a bad config refused by
// `openclaw config validate`, a device that connected through the daemon approved through …/devices, and a
// channel configured through the daemon restarting the OpenClaw it supervises.
#include "support/gateway.hpp"
#include "support/shell.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

using nlohmann::json;
using test::gateway;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

// Waits (bounded, 30 s) for the engine's file log to hold more lines saying it applied a config change.
bool engine_applied_after(const std::string& log, std::size_t seen) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
        std::string text = std::filesystem::exists(log) ? test::read_file(log) : "";
        if (count_of(text, "config hot reload applied") + count_of(text, "config change applied") > seen)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100)); // polling a file for the event itself
    }
    return false;
}

} // namespace

TEST_CASE("OpenClaw settings: its openclaw.json through …/config; its own check refuses a bad one") {
    std::string config = test::env("OPENCLAW_CONFIG"), bin = test::env("OPENCLAW_BIN");
    REQUIRE_MESSAGE(!config.empty(), "run through tests/engine/run-openclaw");
    std::string log = std::filesystem::path(config).parent_path().parent_path() / "openclaw.log";
    gateway d({"--engine-config", config, "--engine-cli", bin});
    auto got = d.get(d.api("/config"));
    REQUIRE(got.status == 200);
    auto current = got.json()["config"];
    CHECK(current["gateway"]["mode"] == "local");

    // A broken candidate: the engine's validator says why, and a PUT of it writes nothing.
    json broken = current;
    broken["gateway"]["port"] = "not a port";
    auto checked = d.post(d.api("/config/validate"), json{{"config", broken}});
    REQUIRE(checked.status == 200);
    MESSAGE("validate: " << checked.body.substr(0, 300));
    CHECK(checked.json()["valid"] == false);
    CHECK(checked.json()["output"].get<std::string>().find("gateway.port") != std::string::npos);
    std::string before = test::read_file(config);
    auto refused = d.request("PUT", d.api("/config"), json{{"config", broken}}.dump());
    CHECK(refused.status == 400);
    CHECK(refused.json()["error"].get<std::string>().find("gateway.port") != std::string::npos);
    CHECK(test::read_file(config) == before);
    CHECK(d.post(d.api("/config/validate"), json::object()).json()["valid"] == true);

    // A change the engine applies while running.
    std::size_t seen = 0;
    {
        std::string text = std::filesystem::exists(log) ? test::read_file(log) : "";
        seen = count_of(text, "config hot reload applied") + count_of(text, "config change applied");
    }
    json next = current;
    next["gateway"]["controlUi"]["allowedOrigins"] = {"https://settings-test.example"};
    auto put = d.request("PUT", d.api("/config"), json{{"config", next}}.dump());
    REQUIRE_MESSAGE(put.status == 200, put.body);
    CHECK(json::parse(test::read_file(config)) == next);
    CHECK(test::read_file(config + ".bak") == before);
    CHECK_MESSAGE(engine_applied_after(log, seen), "the engine's log does not show the change applied");
}

TEST_CASE("OpenClaw settings: a device that connected through the daemon is listed and approved") {
    std::string port = test::env("OPENCLAW_PORT"), token = test::env("OPENCLAW_TOKEN"),
                config = test::env("OPENCLAW_CONFIG");
    std::string bin = test::env("OPENCLAW_BIN"), dir = test::env("ENGINE_TEST_DIR");
    REQUIRE(!port.empty());
    gateway d({"--engine-url", "http://127.0.0.1:" + port, "--engine-config", config, "--engine-cli", bin,
               "--trusted-proxy", "127.0.0.1/32"});
    const std::string url = "ws://127.0.0.1:" + std::to_string(d.port()) + "/chat?token=" + gateway::token;
    json device;
    for (int attempt = 0; attempt < 10 && !device.contains("answer"); ++attempt) {
        if (attempt > 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(500)); // between attempts
        device = json::parse(test::sh("timeout 30 node " + dir + "/device_client.mjs '" + url + "' " + token +
                                      " 203.0.113.51"));
    }
    REQUIRE_MESSAGE(device.contains("answer"), device.dump());
    MESSAGE("device: " << device.dump().substr(0, 300));

    auto listed = d.get(d.api("/devices"));
    REQUIRE_MESSAGE(listed.status == 200, listed.body);
    // By the address this test's devices come from (an attempt refused before the engine trusted the daemon
    // may have left its own request).
    std::string request_id, device_id;
    json list = listed.json(); // iterated below: it must outlive the loop
    for (const auto& p : list["pending"])
        if (p.value("remoteIp", "") == "203.0.113.51") {
            request_id = p.value("requestId", "");
            device_id = p.value("deviceId", "");
        }
    REQUIRE_MESSAGE(!request_id.empty(), listed.body.substr(0, 1000));

    auto approved = d.request("POST", d.api("/devices/" + request_id + "/approve"));
    REQUIRE_MESSAGE(approved.status == 200, approved.body);
    CHECK(approved.json()["success"] == true);
    CHECK(approved.json()["message"].get<std::string>().find("Approved") != std::string::npos);
    bool paired = false;
    json after = d.get(d.api("/devices")).json();
    for (const auto& p : after["paired"])
        paired = paired || p.value("deviceId", "") == device_id;
    CHECK(paired);
    // The same request again: the CLI's refusal, as a 500 with its words.
    auto again = d.request("POST", d.api("/devices/" + request_id + "/approve"));
    CHECK(again.status == 500);
    CHECK(again.json()["error"].get<std::string>().starts_with("CLI error: "));
    MESSAGE("approve again: " << again.body.substr(0, 300));
}

namespace {

// The engine's state in the agent detail: processStatus and processId.
std::pair<std::string, std::string> engine_process(const gateway& d) {
    auto detail = d.get(d.api(""));
    if (detail.status != 200)
        return {};
    auto j = detail.json();
    return {j.value("processStatus", ""),
            j["processId"].is_string() ? j["processId"].get<std::string>() : ""};
}

// Bounded wait for the engine at `port` to answer /health, as a process other than `not_pid`.
bool engine_up(const gateway& d, const std::string& port, const std::string& not_pid, std::string& pid) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (std::chrono::steady_clock::now() < until) {
        auto [state, now_pid] = engine_process(d);
        if (state == "running" && !now_pid.empty() && now_pid != not_pid &&
            test::sh("curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:" + port +
                     "/health") == "200") {
            pid = now_pid;
            return true;
        }
        std::this_thread::sleep_for(
            std::chrono::milliseconds(250)); // polling the engine for the event itself
    }
    return false;
}

} // namespace

TEST_CASE("OpenClaw settings: configuring a channel restarts the engine the daemon supervises") {
    std::string bin = test::env("OPENCLAW_BIN");
    REQUIRE_MESSAGE(!bin.empty(), "run through tests/engine/run-openclaw");
    // A second OpenClaw, the daemon's own supervised child (the suite's shared one is nobody's child).
    test::temp_dir root;
    std::string home = root / "oc";
    std::filesystem::create_directories(home + "/.openclaw");
    std::string config = home + "/.openclaw/openclaw.json";
    std::string port = test::sh("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
                                "print(s.getsockname()[1])'");
    test::write_file(config, json{{"gateway",
                                   {{"mode", "local"},
                                    {"port", std::stoi(port)},
                                    {"bind", "loopback"},
                                    {"auth", {{"mode", "token"}, {"token", "channel-test-engine-token"}}}}},
                                  {"logging", {{"file", home + "/openclaw.log"}}}}
                                 .dump(2));
    std::string engine = "HOME='" + home + "' OPENCLAW_STATE_DIR='" + home +
                         "/.openclaw' OPENCLAW_CONFIG_PATH='" + config + "' exec '" + bin + "' gateway run";
    gateway d({"--engine", engine, "--engine-config", config, "--engine-url", "http://127.0.0.1:" + port},
              root.path);
    std::string first_pid;
    REQUIRE_MESSAGE(engine_up(d, port, "", first_pid), "the supervised OpenClaw did not come up");

    const std::string bot_token = "7012345678:AAFakeTokenForTheChannelTest-9xYz";
    auto configured =
        d.post(d.api("/channels/telegram"), json{{"botToken", bot_token}, {"dmPolicy", "pairing"}});
    REQUIRE_MESSAGE(configured.status == 200, configured.body);
    CHECK(configured.json()["message"] == "telegram configured; engine restarted");
    auto written = json::parse(test::read_file(config));
    CHECK(written["channels"]["telegram"]["botToken"] == bot_token);
    CHECK(written["gateway"]["port"] == std::stoi(port)); // the rest of the file as it was

    std::string second_pid;
    REQUIRE_MESSAGE(engine_up(d, port, first_pid, second_pid),
                    "OpenClaw did not come back after the channel change");
    MESSAGE("engine pid " << first_pid << " → " << second_pid);
    // The new process read the channel: its telegram provider starts (and, offline, fails to reach Telegram).
    const std::string log = home + "/openclaw.log";
    auto provider_started = [&] {
        std::string text = std::filesystem::exists(log) ? test::read_file(log) : "";
        return text.find(R"(channels/telegram\"}","1":"[default] starting provider)") != std::string::npos;
    };
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!provider_started() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(250)); // polling the engine's log for the line
    CHECK_MESSAGE(provider_started(), "the restarted engine's log shows no telegram provider starting");
    auto channels = d.get(d.api("/channels"));
    CHECK(channels.json()["telegram"]["configured"] == true);
    CHECK(channels.json()["telegram"]["botTokenHint"] == "…9xYz");
    CHECK(channels.body.find(bot_token) == std::string::npos);
    CHECK(d.log().find(bot_token) == std::string::npos);

    // Removed without a restart when asked: the same process goes on.
    auto removed = d.request("DELETE", d.api("/channels/telegram?skipRestart=true"));
    REQUIRE(removed.status == 200);
    CHECK(removed.json()["message"] == "telegram removed; restart skipped");
    CHECK(engine_process(d).second == second_pid);
    auto after = json::parse(test::read_file(config));
    CHECK(after.value("channels", json::object()).count("telegram") == 0);
}
