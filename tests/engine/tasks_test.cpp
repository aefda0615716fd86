// Task delivery against the real engine (docs/api.md §14): OpenClaw's hooks, started with hooks.enabled and
// a hooks token by tests/engine/run-openclaw, model calls answered by the loopback stub (model_stub.py).
#include "support/gateway.hpp"
#include "support/shell.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using nlohmann::json;
using test::gateway;

namespace {

json run_job(const gateway& d, const json& job) {
    auto created = d.post(d.api("/tasks"), job);
    REQUIRE_MESSAGE(created.status == 201, created.body);
    auto run = d.request("POST", d.api("/tasks/" + created.json()["id"].get<std::string>() + "/run"));
    REQUIRE_MESSAGE(run.status == 200, run.body);
    MESSAGE(job["name"] << ": " << run.body.substr(0, 400));
    return run.json();
}

json turn(const std::string& name, json payload_extra = json::object()) {
    json payload{{"kind", "agentTurn"}, {"message", "Say something short."}, {"timeoutSeconds", 120}};
    for (auto& [k, v] : payload_extra.items())
        payload[k] = v;
    return {{"name", name}, {"schedule", "@daily"}, {"sessionTarget", "isolated"}, {"payload", payload}};
}

} // namespace

TEST_CASE(
    "OpenClaw hooks: systemEvent queued, agentTurn ok with the stub model, errors with the engine's reason") {
    std::string port = test::env("OPENCLAW_PORT");
    REQUIRE_MESSAGE(!port.empty(), "run through tests/engine/run-openclaw");
    std::string url = "http://127.0.0.1:" + port;
    gateway d({"--engine-url", url, "--engine-hooks-token-file", test::env("OPENCLAW_HOOKS_TOKEN_FILE")});

    auto wake = run_job(d, {{"name", "wake"},
                            {"schedule", "@hourly"},
                            {"payload", {{"kind", "systemEvent"}, {"text", "A scheduled check-in."}}}});
    CHECK(wake["status"] == "ok");
    auto answer = json::parse(wake["output"].get<std::string>());
    CHECK(answer["ok"] == true);
    CHECK(answer["eventOutcome"] == "queued");

    auto ok = run_job(d, turn("with the stub model"));
    CHECK(ok["status"] == "ok");
    CHECK(json::parse(ok["output"].get<std::string>())["completion"]["status"] == "ok");

    auto no_model = run_job(d, turn("without a model", {{"model", "nowhere/none"}}));
    CHECK(no_model["status"] == "error");
    CHECK(no_model["error"] == "the turn ended with error: the reply was empty");

    // The gateway's own token is not the hooks token: the engine refuses it.
    test::temp_dir secrets;
    test::write_file(secrets / "wrong", test::env("OPENCLAW_TOKEN") + "\n");
    gateway wrong({"--engine-url", url, "--engine-hooks-token-file", secrets / "wrong"});
    auto denied = run_job(wrong, turn("with a wrong token"));
    CHECK(denied["status"] == "error");
    CHECK(denied["error"].get<std::string>().starts_with("the engine answered 401"));
    CHECK(wrong.log().find(test::env("OPENCLAW_TOKEN")) == std::string::npos);
}
