// The front door against the real engine (docs/api.md §10): OpenClaw, started once for this suite by
// tests/engine/run-openclaw, reached through a real agent-gateway. The engine's config lacks
// gateway.trustedProxies at first: the daemon must add them, or OpenClaw refuses the forwarded upgrade.
#include "support/gateway.hpp"
#include "support/shell.hpp"
#include "support/ws_client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

using test::gateway;

namespace {

struct engine_env {
    std::string port = test::env("OPENCLAW_PORT");
    std::string token = test::env("OPENCLAW_TOKEN");
    std::string config = test::env("OPENCLAW_CONFIG");
    std::string bin = test::env("OPENCLAW_BIN");
    std::string dir = test::env("ENGINE_TEST_DIR");
    std::string url() const { return "http://127.0.0.1:" + port; }
};

nlohmann::json connect_frame(const std::string& token, int protocol) {
    return {{"type", "req"},
            {"id", "connect-1"},
            {"method", "connect"},
            {"params",
             {{"minProtocol", protocol},
              {"maxProtocol", protocol},
              {"client", {{"id", "cli"}, {"version", "1.0.0"}, {"platform", "linux"}, {"mode", "cli"}}},
              {"role", "operator"},
              {"scopes", {"operator.read", "operator.write"}},
              {"caps", nlohmann::json::array()},
              {"commands", nlohmann::json::array()},
              {"permissions", nlohmann::json::object()},
              {"auth", {{"token", token}}}}}};
}

// The engine applies a changed trustedProxies within about 0.3 s, and answers 1013 until it is ready: the
// first upgrade through the daemon is retried for a bounded while, each attempt on a new connection.
std::unique_ptr<test::ws_client> open_chat(const gateway& d, const std::string& path, nlohmann::json& first) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string last_error;
    while (std::chrono::steady_clock::now() < until) {
        try {
            auto ws = std::make_unique<test::ws_client>(d.port(), path + "?token=" + gateway::token);
            if (auto m = ws->read(std::chrono::seconds(10))) {
                first = nlohmann::json::parse(*m);
                return ws;
            }
            last_error = "closed with " + std::to_string(ws->close_code());
        } catch (const std::exception& e) {
            last_error = e.what();
        }
        std::this_thread::sleep_for(
            std::chrono::milliseconds(300)); // between attempts, not a synchronisation
    }
    FAIL("no chat connection through the daemon: " << last_error);
    return nullptr;
}

} // namespace

TEST_CASE(
    "OpenClaw through the daemon: challenge, connect with protocol 4 and the token in the frame, hello") {
    engine_env e;
    REQUIRE_MESSAGE(!e.port.empty(), "run through tests/engine/run-openclaw");
    gateway d({"--engine-url", e.url(), "--engine-config", e.config});
    // The suite's engine config is shared: whichever case started a daemon first added the addresses (and
    // logged it); doctest's order follows the files' __FILE__ spelling, which ccache may make relative.
    auto cfg = nlohmann::json::parse(test::read_file(e.config));
    CHECK(cfg["gateway"]["trustedProxies"] == nlohmann::json({"127.0.0.1", "::1"}));

    for (const char* path : {"/", "/chat"}) {
        CAPTURE(path);
        nlohmann::json first;
        auto ws = open_chat(d, path, first);
        REQUIRE(ws);
        CHECK(first["type"] == "event");
        CHECK(first["event"] == "connect.challenge");
        REQUIRE(ws->send(connect_frame(e.token, 4).dump()));
        std::optional<nlohmann::json> answer;
        for (int i = 0; i < 20 && !answer; ++i) {
            auto m = ws->read(std::chrono::seconds(10));
            if (!m)
                break;
            auto j = nlohmann::json::parse(*m);
            if (j["type"] == "res" && j["id"] == "connect-1")
                answer = j;
        }
        REQUIRE_MESSAGE(answer,
                        "no answer to connect; close " << ws->close_code() << " " << ws->close_reason());
        CHECK_MESSAGE((*answer)["ok"] == true, answer->dump());
        MESSAGE("connect answer: " << answer->dump().substr(0, 300));
        ws->close();
    }
}

TEST_CASE("OpenClaw through the daemon: a chat turn streams delta then final from the engine's model") {
    engine_env e;
    REQUIRE(!e.port.empty());
    gateway d({"--engine-url", e.url(), "--engine-config", e.config});
    nlohmann::json send = {{"type", "req"},
                           {"id", "chat-1"},
                           {"method", "chat.send"},
                           {"params",
                            {{"sessionKey", "agent:main:cli"},
                             {"message", "hello through the gateway"},
                             {"idempotencyKey", "turn-1"}}}};
    bool delta = false, final_seen = false;
    std::string texts;
    // When this daemon has just added trustedProxies, the engine applies them by closing its connections with
    // 4001 ("gateway policy changed") and failing a turn under way ("... superseded"): the turn is then tried
    // again on a new connection, a bounded number of times.
    for (int attempt = 0; attempt < 3 && !final_seen; ++attempt) {
        nlohmann::json first;
        auto ws = open_chat(d, "/chat", first);
        REQUIRE(ws);
        REQUIRE(ws->send(connect_frame(e.token, 4).dump()));
        // A session and a run of its own per attempt: a turn an earlier attempt left running answers there.
        const std::string run = "turn-" + std::to_string(attempt);
        send["params"]["idempotencyKey"] = run;
        send["params"]["sessionKey"] = "agent:main:gateway-test-" + std::to_string(attempt);
        // A turn takes ~5 s here; every read is bounded, and so is the number of frames looked at.
        for (int i = 0; i < 2000 && !final_seen; ++i) {
            auto m = ws->read(std::chrono::seconds(30));
            if (!m) {
                REQUIRE_MESSAGE(ws->close_code() == 4001,
                                "the stream ended: close " << ws->close_code() << " " << ws->close_reason());
                break;
            }
            auto j = nlohmann::json::parse(*m);
            if (j["type"] == "res" && j["id"] == "connect-1") {
                REQUIRE_MESSAGE(j["ok"] == true, j.dump());
                REQUIRE(ws->send(send.dump()));
            } else if (j["type"] == "res" && j["id"] == "chat-1") {
                CHECK_MESSAGE(j["ok"] == true, j.dump());
            } else if (j["type"] == "event" && (j["event"] == "chat" || j["event"] == "agent") &&
                       j["payload"].value("runId", "") == run) {
                if (j["event"] == "agent") {
                    texts += j["payload"].dump(); // stream "assistant": the model's deltas
                    continue;
                }
                const auto state = j["payload"].value("state", "");
                if (state == "error" && attempt < 2 &&
                    j["payload"].value("errorMessage", "").find("superseded") != std::string::npos)
                    break; // the same reload, seen by a turn already under way
                REQUIRE_MESSAGE(state != "error", j.dump());
                delta |= state == "delta";
                final_seen |= state == "final";
                texts += j["payload"].dump();
            }
        }
    }
    CHECK(delta);
    CHECK(final_seen);
    CHECK_MESSAGE(texts.find("The stub model heard you.") != std::string::npos, texts.substr(0, 2000));
}

TEST_CASE("OpenClaw through the daemon: its close codes reach the client (protocol 3 is refused with 1002)") {
    engine_env e;
    REQUIRE(!e.port.empty());
    gateway d({"--engine-url", e.url(), "--engine-config", e.config});
    nlohmann::json first;
    auto ws = open_chat(d, "/chat", first);
    REQUIRE(ws);
    REQUIRE(ws->send(connect_frame(e.token, 3).dump()));
    while (ws->read(std::chrono::seconds(10))) {
    }
    CHECK(ws->close_code() == 1002);
}

TEST_CASE("OpenClaw's Control UI loads through /config/ in headless Chromium and connects back through it") {
    engine_env e;
    REQUIRE(!e.port.empty());
    // As in the product, the gateway token is also the engine's: the page takes it from ?token= and its
    // WebSocket (back through the daemon, under /config) presents it to the engine.
    gateway d({"--engine-url", e.url(), "--engine-config", e.config, "--token", e.token});
    const test::header_list bearer{{"Authorization", "Bearer " + e.token}};
    CHECK(d.request("GET", "/config/", {}, {}, false).status == 401);
    auto page = d.request("GET", "/config/", {}, bearer, false);
    REQUIRE(page.status == 200);
    CHECK(page.body.find("OpenClaw") != std::string::npos);

    const std::string artifacts = std::filesystem::current_path().string() + "/test-artifacts";
    std::filesystem::create_directories(artifacts);
    const std::string shot = artifacts + "/openclaw-control-ui.png";
    std::filesystem::remove(shot);
    const std::string url =
        "'http://127.0.0.1:" + std::to_string(d.port()) + "/config/?token=" + e.token + "'";
    const std::string chromium =
        "timeout 90 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars "
        "--user-data-dir=$(mktemp -d) --window-size=1280,800 --virtual-time-budget=10000 ";
    auto out = test::sh(chromium + "--screenshot=" + shot + " " + url);
    REQUIRE_MESSAGE(std::filesystem::exists(shot), out);
    CHECK(std::filesystem::file_size(shot) > 1000); // what it shows is checked below, in the DOM and the log
    MESSAGE("screenshot: " << shot << " (" << std::filesystem::file_size(shot) << " bytes)");
    // The page ran: its WebSocket came back through the daemon, and the engine took the token.
    auto dom = test::sh(chromium + "--dump-dom " + url);
    CHECK(dom.find("OpenClaw") != std::string::npos);
    CHECK(dom.find("rejected the supplied Gateway secret") == std::string::npos);
    bool tunnelled = false; // an access line such as "GET /config?token=REDACTED 101 5120 812.0ms proxied"
    std::istringstream log(d.log());
    for (std::string line; std::getline(log, line);)
        tunnelled |= line.find("GET /config") != std::string::npos &&
                     line.find(" 101 ") != std::string::npos && line.ends_with("proxied");
    CHECK_MESSAGE(tunnelled, d.log());
    // The page's own config, fetched by the browser with the cookie ?token= set: the daemon sends the engine
    // its token (docs/api.md §10), so it answers 200 (it was 401 when the browser's credentials were only
    // stripped and a fresh browser never got its config).
    bool config_fetched = false;
    std::istringstream again(d.log());
    for (std::string line; std::getline(again, line);) {
        if (line.find("GET /config/control-ui-config.json") == std::string::npos)
            continue;
        CHECK_MESSAGE(line.find(" 200 ") != std::string::npos, line);
        config_fetched = true;
    }
    CHECK_MESSAGE(config_fetched, d.log());
    auto config =
        d.request("GET", "/config/control-ui-config.json", {}, {{"Cookie", "gw_token=" + e.token}}, false);
    CHECK_MESSAGE(config.status == 200, config.body);
}

TEST_CASE(
    "OpenClaw through the daemon: a remote device is asked to pair and shows as pending with its address") {
    engine_env e;
    REQUIRE(!e.port.empty());
    // The client stands behind a trusted edge proxy that names it 203.0.113.50: the engine must see that
    // address (not pair it silently as a local device).
    gateway d({"--engine-url", e.url(), "--engine-config", e.config, "--trusted-proxy", "127.0.0.1/32"});
    const std::string url = "ws://127.0.0.1:" + std::to_string(d.port()) + "/chat?token=" + gateway::token;
    nlohmann::json result;
    // Until the engine has applied the trustedProxies this daemon just added (~0.3 s), it refuses the
    // forwarded upgrade (403) or closes with 4001: a bounded number of attempts, each a new connection.
    for (int attempt = 0; attempt < 10 && !result.contains("answer"); ++attempt) {
        if (attempt > 0)
            std::this_thread::sleep_for(
                std::chrono::milliseconds(500)); // between attempts, not a synchronisation
        result = nlohmann::json::parse(test::sh("timeout 30 node " + e.dir + "/device_client.mjs '" + url +
                                                "' " + e.token + " 203.0.113.50"));
    }
    REQUIRE_MESSAGE(result.contains("answer"), result.dump() << "\n" << d.log());
    CHECK_MESSAGE(result["answer"]["ok"] == false, result.dump()); // not paired silently
    MESSAGE("connect answer: " << result["answer"].dump().substr(0, 400));

    auto listed = nlohmann::json::parse(test::sh("timeout 60 " + e.bin + " devices list --json 2>/dev/null"));
    bool pending = false;
    const auto device = result["deviceId"].get<std::string>();
    for (const auto& p : listed["pending"])
        if (p.value("deviceId", "") == device) {
            pending = true;
            CHECK_MESSAGE(p.value("remoteIp", "") == "203.0.113.50", p.dump());
        }
    CHECK_MESSAGE(pending, listed.dump().substr(0, 1000));
    for (const auto& p : listed["paired"])
        CHECK(p.value("deviceId", "") != device);
}
