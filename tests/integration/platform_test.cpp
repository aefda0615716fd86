// Platform tokens and the control plane's routes (docs/api.md §15) through the real daemon. The tokens are
// verified by an independent implementation in tests/platform (jose); here: what each refusal answers.
#include "support/gateway.hpp"
#include "support/upstream.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using test::gateway;

namespace {

std::string make_key(const test::temp_dir& dir, const std::string& name, const std::string& genpkey_args) {
    std::string path = dir / name;
    std::string cmd = "openssl genpkey " + genpkey_args + " -out '" + path + "' 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return path;
}

} // namespace

TEST_CASE("platform token: no key is 503, the JWKS 404; a key that is not P-256 stops the start") {
    {
        gateway d;
        auto r = d.request("POST", "/v0/platform/token");
        CHECK(r.status == 503);
        CHECK(r.json()["error"] == "Platform tokens are not configured (no --platform-key)");
        CHECK(d.request("POST", d.api("/platform/token")).status == 503);
        CHECK(d.request("GET", "/.well-known/jwks.json", {}, {}, false).status == 404);
    }
    test::temp_dir dir;
    for (const auto& [name, args] : std::vector<std::pair<std::string, std::string>>{
             {"rsa.pem", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"},
             {"p384.pem", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384"},
             {"ed25519.pem", "-algorithm ED25519"}}) {
        auto key = make_key(dir, name, args);
        auto r = test::run_binary({"--root", dir.path, "--token", "t", "--platform-key", key});
        CHECK_MESSAGE(r.exit_code == 2, name);
        CHECK_MESSAGE(r.err.find("not an EC P-256 key") != std::string::npos, r.err);
    }
    test::write_file(dir / "garbage.pem",
                     "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
    auto garbage =
        test::run_binary({"--root", dir.path, "--token", "t", "--platform-key", dir / "garbage.pem"});
    CHECK(garbage.exit_code == 2);
    CHECK(garbage.err.find("not a PEM private key") != std::string::npos);
}

TEST_CASE(
    "platform token: minted with the token only; the JWKS is public and not shadowed by an agent route") {
    test::temp_dir dir;
    auto key = make_key(dir, "key.pem", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
    gateway d({"--platform-key", key});
    CHECK(d.request("POST", "/v0/platform/token", {}, {}, false).status == 401);
    auto minted = d.request("POST", "/v0/platform/token");
    REQUIRE(minted.status == 200);
    auto token = minted.json()["token"].get<std::string>();
    CHECK(std::count(token.begin(), token.end(), '.') == 2);
    // A cookie-carried token from another site may not mint one (it acts: POST).
    auto cross = d.request(
        "POST", "/v0/platform/token", {},
        {{"Cookie", std::string("gw_token=") + gateway::token}, {"Origin", "https://evil.example"}}, false);
    CHECK(cross.status == 403);

    // The agent's app at "/" takes every other path outside /v0, not the daemon's key.
    test::upstream_service app;
    nlohmann::json body{{"mappings", {{{"port", app.port()}, {"pathPrefix", "/"}, {"protected", false}}}}};
    REQUIRE(d.request("PUT", d.api("/port-forwarding"), body.dump(), {{"Content-Type", "application/json"}})
                .status == 200);
    auto jwks = d.request("GET", "/.well-known/jwks.json", {}, {}, false);
    CHECK(jwks.status == 200);
    REQUIRE(jwks.json()["keys"].size() == 1);
    CHECK(jwks.json()["keys"][0]["kty"] == "EC");
    CHECK(jwks.json()["keys"][0].count("d") == 0); // never the private part
    // Other methods and paths are the app's.
    for (auto [verb, path] : {std::pair{"POST", "/.well-known/jwks.json"}, {"GET", "/.well-known/other"}}) {
        auto r = d.request(verb, path, {}, {}, false);
        CHECK(r.status == 200);
        CHECK(r.body.find("\"keys\"") == std::string::npos);
    }
}

TEST_CASE("control plane routes answer 501, with the token only") {
    gateway d;
    for (const auto& [verb, path] :
         std::vector<std::pair<std::string, std::string>>{{"POST", "/secrets"},
                                                          {"DELETE", "/secrets/s1"},
                                                          {"POST", "/skills"},
                                                          {"DELETE", "/skills/k1"},
                                                          {"GET", "/skills/updates"},
                                                          {"POST", "/skills/k1/update"},
                                                          {"GET", "/available-agent-versions"},
                                                          {"GET", "/update"},
                                                          {"POST", "/update"}}) {
        auto r = d.request(verb, d.api(path), "{}", {{"Content-Type", "application/json"}});
        CHECK_MESSAGE(r.status == 501, verb, " ", path);
        CHECK(r.json()["error"] == "Managed by the control plane");
        CHECK(d.request(verb, d.api(path), {}, {}, false).status == 401);
    }
}
