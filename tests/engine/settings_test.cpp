// The engine's settings against the real engine (docs/api.md §15): OpenClaw's own openclaw.json read and
// written through the daemon (the engine's log shows it applied the change), a bad config refused by
// `openclaw config validate`, and a device that connected through the daemon approved through …/devices.
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

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

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
    std::string config = env("OPENCLAW_CONFIG"), bin = env("OPENCLAW_BIN");
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
    std::string port = env("OPENCLAW_PORT"), token = env("OPENCLAW_TOKEN"), config = env("OPENCLAW_CONFIG");
    std::string bin = env("OPENCLAW_BIN"), dir = env("ENGINE_TEST_DIR");
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
