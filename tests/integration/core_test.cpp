// Dispatch, errors and common behaviour (docs/api.md §3, §5, §6) against the real binary.
#include "support/gateway.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

using test::gateway;

TEST_CASE("healthz answers without a token, API paths need one") {
    gateway d;
    auto h = d.request("GET", "/healthz", {}, {}, false);
    CHECK(h.status == 200);
    CHECK(h.json() == nlohmann::json{{"status", "ok"}});
    CHECK(h.header("content-type") == "application/json");

    auto anon = d.request("GET", d.api(""), {}, {}, false);
    CHECK(anon.status == 401);
    CHECK(anon.json()["error"] == "Unauthorized");
    CHECK(anon.header("www-authenticate").empty());

    auto unknown_anon = d.request("GET", "/v0/nothing-here", {}, {}, false);
    CHECK(unknown_anon.status == 401);
}

TEST_CASE("the OpenAPI document is served without a token, with an ETag that If-None-Match matches") {
    gateway d;
    auto doc = d.request("GET", "/v0/openapi.json", {}, {}, false);
    CHECK(doc.status == 200);
    CHECK(doc.header("content-type") == "application/json");
    CHECK(doc.json()["openapi"].get<std::string>().starts_with("3.1."));
    CHECK(doc.json()["paths"].contains("/v0/agents/{agentId}/console/exec"));
    const std::string etag = doc.header("etag");
    REQUIRE(etag.size() == 34);
    CHECK(doc.header("set-cookie").empty());
    auto again = d.request("GET", "/v0/openapi.json", {}, {{"If-None-Match", etag}}, false);
    CHECK(again.status == 304);
    CHECK(again.body.empty());
    // A wrong token changes nothing for an open route; another method is the API's: 401 without the token,
    // 405 with it.
    CHECK(d.request("GET", "/v0/openapi.json", {}, {{"Authorization", "Bearer wrong"}}, false).status == 200);
    CHECK(d.request("HEAD", "/v0/openapi.json", {}, {}, false).status == 200);
    CHECK(d.request("POST", "/v0/openapi.json", {}, {}, false).status == 401);
    CHECK(d.request("POST", "/v0/openapi.json").status == 405);
}

TEST_CASE("unknown paths, wrong agent ids and wrong methods get JSON errors") {
    gateway d;
    auto r = d.get("/v0/nothing-here");
    CHECK(r.status == 404);
    CHECK(r.json().contains("error"));

    auto outside = d.get("/not-api");
    CHECK(outside.status == 404);
    CHECK(outside.header("content-type") == "application/json");

    auto other = d.get("/v0/agents/someone-else");
    CHECK(other.status == 404);
    CHECK(other.json()["error"] == "Agent not found");
    CHECK(d.get("/v0/agents/someone-else/files?path=.").json()["error"] == "Agent not found");

    auto wrong = d.request("DELETE", d.api("/console/exec"));
    CHECK(wrong.status == 405);
    CHECK(wrong.header("allow") == "POST");
    CHECK(wrong.json()["error"] == "Method not allowed");

    // §19 added PUT and DELETE to …/files; PATCH is still nobody's.
    auto patch_files = d.request("PATCH", d.api("/files"), "{}");
    CHECK(patch_files.status == 405);
    CHECK(patch_files.header("allow") == "GET, HEAD, PUT, DELETE");
}

TEST_CASE("malformed JSON, wrong field types and an empty body") {
    gateway d;
    auto bad =
        d.request("POST", d.api("/console/exec"), "{\"command\":", {{"Content-Type", "application/json"}});
    CHECK(bad.status == 400);
    CHECK(bad.json()["error"].get<std::string>().rfind("Invalid JSON: ", 0) == 0);

    auto arr = d.request("POST", d.api("/console/exec"), "[1,2]", {{"Content-Type", "application/json"}});
    CHECK(arr.status == 400);
    CHECK(arr.json()["error"].get<std::string>().rfind("Invalid JSON", 0) == 0);

    auto type = d.post(d.api("/console/exec"), {{"command", "true"}, {"timeoutSeconds", "ten"}});
    CHECK(type.status == 400);
    CHECK(type.json()["error"].get<std::string>().find("timeoutSeconds") != std::string::npos);

    // Clients send Content-Type: application/json with no body on GETs: that is fine.
    auto get = d.request("GET", d.api(""), "", {{"Content-Type", "application/json"}});
    CHECK(get.status == 200);
    // An empty body on a POST counts as {}: here that means no command.
    auto empty = d.request("POST", d.api("/console/exec"), "", {{"Content-Type", "application/json"}});
    CHECK(empty.status == 400);
    CHECK(empty.json()["error"] == "Invalid command");
}

TEST_CASE("broken HTTP gets a JSON 400 and oversized headers are refused") {
    gateway d;
    auto garbage = d.raw("NOT HTTP AT ALL\r\n\r\n");
    CHECK(garbage.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(garbage.find("application/json") != std::string::npos);
    CHECK(garbage.find("{\"error\":") != std::string::npos);

    std::string big = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
    auto res = d.raw(big);
    CHECK(res.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(res.find("too large") != std::string::npos);
}

TEST_CASE("a body over the route limit gets 413 before it is sent") {
    gateway d;
    // Headers only: the server must answer without waiting for the 100 MB it was promised.
    std::string head = "POST /v0/agents/local/console/exec HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                       std::string(gateway::token) +
                       "\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
    auto t0 = std::chrono::steady_clock::now();
    auto res = d.raw(head, std::chrono::seconds(5));
    CHECK(res.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(res.find("Request body too large") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4));

    // Chunked bodies have no length up front: the limit stops them while reading.
    std::string chunk(1 << 20, 'x');
    std::string chunked = "POST /v0/agents/local/console/exec HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                          std::string(gateway::token) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; ++i)
        chunked += "100000\r\n" + chunk + "\r\n";
    chunked += "0\r\n\r\n";
    auto res2 = d.raw(chunked, std::chrono::seconds(5));
    CHECK(res2.rfind("HTTP/1.1 413", 0) == 0);
}

TEST_CASE("headers must arrive within 10 s") {
    gateway d;
    auto t0 = std::chrono::steady_clock::now();
    auto res = d.raw("GET /healthz HTTP/1.1\r\nHost: x\r\n", std::chrono::seconds(15));
    auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(res.empty()); // closed without an answer
    CHECK(waited >= std::chrono::seconds(9));
    CHECK(waited < std::chrono::seconds(14));
}

TEST_CASE("keep-alive serves several requests on one connection, pipelined too") {
    gateway d;
    std::string two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: "
                      "x\r\nConnection: close\r\n\r\n";
    auto res = d.raw(two);
    auto first = res.find("HTTP/1.1 200");
    REQUIRE(first != std::string::npos);
    CHECK(res.find("HTTP/1.1 200", first + 1) != std::string::npos);
}

TEST_CASE("CORS for listed origins only") {
    gateway d({"--allow-origin", "https://app.example"});
    auto pre = d.request("OPTIONS", d.api("/console/exec"), {},
                         {{"Origin", "https://app.example"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "authorization, content-type"}},
                         false);
    CHECK(pre.status == 204);
    CHECK(pre.header("access-control-allow-origin") == "https://app.example");
    CHECK(pre.header("access-control-allow-credentials") == "true");
    CHECK(pre.header("access-control-allow-headers").find("Authorization") != std::string::npos);
    CHECK(pre.header("access-control-allow-methods").find("POST") != std::string::npos);

    auto get = d.request("GET", d.api(""), {}, {{"Origin", "https://app.example"}});
    CHECK(get.status == 200);
    CHECK(get.header("access-control-allow-origin") == "https://app.example");
    auto err = d.request("GET", d.api(""), {}, {{"Origin", "https://app.example"}}, false);
    CHECK(err.status == 401);
    CHECK(err.header("access-control-allow-origin") == "https://app.example");

    auto other =
        d.request("OPTIONS", d.api("/console/exec"), {},
                  {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}}, false);
    CHECK(other.status != 204);
    CHECK(other.header("access-control-allow-origin").empty());
}

TEST_CASE("base domain: another agent's host is not served") {
    gateway d({"--base-domain", "agents.example"});
    CHECK(d.request("GET", d.api(""), {}, {{"Host", "local.agents.example"}}).status == 200);
    auto other = d.request("GET", d.api(""), {}, {{"Host", "other.agents.example"}});
    CHECK(other.status == 404);
    CHECK(other.json()["error"] == "Agent not found");
    CHECK(d.request("GET", d.api(""), {}, {{"Host", "127.0.0.1:8080"}}).status == 200);
    CHECK(d.request("GET", d.api(""), {}, {{"Host", "localhost"}}).status == 200);
}

TEST_CASE("agent detail: manifest name, skills from SKILL.md, empty lists") {
    test::temp_dir root;
    ::mkdir((root / "workspace").c_str(), 0755);
    ::mkdir((root / "workspace/skills").c_str(), 0755);
    ::mkdir((root / "workspace/skills/web-search").c_str(), 0755);
    ::mkdir((root / "workspace/skills/no-front").c_str(), 0755);
    ::mkdir((root / "workspace/skills/empty-dir").c_str(), 0755);
    test::write_file(root / "workspace/skills/web-search/SKILL.md",
                     "---\nname: Web Search\ndescription: \"Searches the web\"\n---\n# body\n");
    test::write_file(root / "workspace/skills/no-front/SKILL.md", "just text\n");
    test::write_file(root / "workspace/manifest.json",
                     R"({"version":1,"agent":{"name":"Research Bot","engine":"openclaw"}})");
    gateway d({"--agent-id", "bot-1"}, root.path);
    auto r = d.get("/v0/agents/bot-1");
    REQUIRE(r.status == 200);
    auto j = r.json();
    CHECK(j["agent"]["agentId"] == "bot-1");
    CHECK(j["agent"]["name"] == "Research Bot");
    CHECK(j["agent"]["engine"] == "openclaw");
    CHECK(j["agent"]["createdAt"].get<std::string>().size() == 24);
    CHECK(j["processStatus"] == "not_running");
    CHECK(j["processId"].is_null());
    CHECK(j["secrets"] == nlohmann::json::array());
    CHECK(j["snapshots"] == nlohmann::json::array());
    CHECK(j["portForwarding"] == nlohmann::json::array());
    REQUIRE(j["skills"].size() == 2);
    CHECK(j["skills"][0]["skillId"] == "no-front");
    CHECK(j["skills"][0]["name"] == "no-front");
    CHECK(j["skills"][1]["name"] == "Web Search");
    CHECK(j["skills"][1]["description"] == "Searches the web");
    CHECK(r.body.find(gateway::token) == std::string::npos);

    // The list is cached between polls, and a change shows on the very next one: an edit, a new skill, a
    // removed one, the agent's own commands: each lands as a file system event before the next request.
    auto skill_names = [&] {
        std::string out;
        auto agent = d.get("/v0/agents/bot-1").json();
        for (const auto& s : agent["skills"])
            out += (out.empty() ? "" : ",") + s["name"].get<std::string>();
        return out;
    };
    CHECK(skill_names() == "no-front,Web Search");
    test::write_file(root / "workspace/skills/web-search/SKILL.md", "---\nname: Web Search 2\n---\n");
    CHECK(skill_names() == "no-front,Web Search 2");
    ::mkdir((root / "workspace/skills/later").c_str(), 0755);
    test::write_file(root / "workspace/skills/later/SKILL.md", "---\nname: Later\n---\n");
    CHECK(skill_names() == "Later,no-front,Web Search 2");
    // The agent itself, through its console.
    CHECK(d.post("/v0/agents/bot-1/console/exec",
                 {{"command", "mkdir -p " + d.workspace() +
                                  "/skills/up && printf -- '---\\nname: Up\\n---\\n' > " + d.workspace() +
                                  "/skills/up/SKILL.md"}})
              .json()["exitCode"] == 0);
    CHECK(skill_names() == "Later,no-front,Up,Web Search 2");
    ::unlink((root / "workspace/skills/no-front/SKILL.md").c_str());
    CHECK(skill_names() == "Later,Up,Web Search 2");

    auto who = d.get("/v0/agents/bot-1/platform/whoami");
    CHECK(who.json() ==
          nlohmann::json{{"agentId", "bot-1"}, {"name", "Research Bot"}, {"engine", "openclaw"}});
    CHECK(d.get("/v0/agents/local").status == 404);
}
