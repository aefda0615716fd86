#include "config/daemon_config.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

using namespace ag;

namespace {
config parse(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<const char*> argv{"agent-gateway"};
    for (auto& a : args)
        argv.push_back(a.c_str());
    std::vector<const char*> envp;
    for (auto& e : env)
        envp.push_back(e.c_str());
    envp.push_back(nullptr);
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), envp.data()).cfg;
}
} // namespace

TEST_CASE("listen addresses") {
    auto a = parse_listen_address("127.0.0.1:80");
    CHECK(a.host == "127.0.0.1");
    CHECK(a.port == 80);
    auto v6 = parse_listen_address("[::1]:8080");
    CHECK(v6.host == "::1");
    CHECK(v6.text() == "[::1]:8080");
    auto u = parse_listen_address("unix:/run/gw.sock");
    CHECK(u.type == listen_address::kind::unix_socket);
    CHECK(u.path == "/run/gw.sock");
    CHECK_THROWS_AS(parse_listen_address("localhost"), usage_error);
    CHECK_THROWS_AS(parse_listen_address("::1:80"), usage_error);
    CHECK_THROWS_AS(parse_listen_address(":80"), usage_error);
    CHECK_THROWS_AS(parse_listen_address("h:99999"), usage_error);
    CHECK_THROWS_AS(parse_listen_address("unix:"), usage_error);
}

TEST_CASE("defaults and derived paths") {
    test::temp_dir s;
    auto c = parse({"--root", s.path, "--token", "t"});
    CHECK(c.listen.size() == 1);
    CHECK(c.listen[0].text() == "127.0.0.1:18789");
    CHECK(c.agent_id == "local");
    CHECK(c.workspace == s.path + "/workspace");
    CHECK(c.state_dir == s.path + "/.agent-gateway");
    CHECK(c.manifest == s.path + "/workspace/manifest.json");
    CHECK(c.max_file_bytes == 5242880);
    CHECK(c.exec_timeout == 60);
    CHECK(c.exec_timeout_max == 600);
    CHECK(c.exec_max_output == 1048576);
    CHECK(c.snapshot_interval == 60);
    CHECK(c.cid_version == 0);
    CHECK(c.threads == 1);
}

TEST_CASE("repeatable options, --opt=value, environment lists") {
    test::temp_dir s;
    auto c = parse(
        {"--root=" + s.path, "--token", "t", "--listen", "127.0.0.1:1", "--listen", "unix:/tmp/x.sock",
         "--allow-origin", "https://a.example"},
        {"AGENT_GATEWAY_ALLOW_ORIGIN=https://b.example,https://c.example", "AGENT_GATEWAY_CID_VERSION=1"});
    CHECK(c.listen.size() == 2);
    CHECK(c.allow_origin == std::vector<std::string>{"https://a.example"}); // command line replaces env
    CHECK(c.cid_version == 1);
    auto e = parse({"--root", s.path}, {"AGENT_GATEWAY_ALLOW_ORIGIN=https://b.example,https://c.example",
                                        "AGENT_GATEWAY_TOKEN=from-env"});
    CHECK(e.allow_origin.size() == 2);
    CHECK(*e.token == "from-env");
}

TEST_CASE("config file values, lower precedence than env and command line") {
    test::temp_dir s;
    std::ofstream(s.path + "/c.json")
        << R"({"exec-timeout":5,"exec-timeout-max":50,"agent-id":"file-id","listen":["127.0.0.1:7"]})";
    auto c = parse({"--root", s.path, "--token", "t", "--config", s.path + "/c.json"},
                   {"AGENT_GATEWAY_AGENT_ID=env-id"});
    CHECK(c.exec_timeout == 5);
    CHECK(c.exec_timeout_max == 50);
    CHECK(c.agent_id == "env-id");
    CHECK(c.listen[0].port == 7);
    std::ofstream(s.path + "/bad.json") << R"({"listen":{"x":1}})";
    CHECK_THROWS_AS(parse({"--root", s.path, "--token", "t", "--config", s.path + "/bad.json"}), usage_error);
    std::ofstream(s.path + "/notjson.json") << "{";
    CHECK_THROWS_AS(parse({"--root", s.path, "--token", "t", "--config", s.path + "/notjson.json"}),
                    usage_error);
}

TEST_CASE("invalid combinations") {
    test::temp_dir s;
    CHECK_THROWS_AS(parse({"--root", s.path, "--token", "a", "--token-file", s.path + "/x"}), usage_error);
    CHECK_THROWS_AS(parse({"--root", s.path, "--tls-cert", s.path + "/c"}), usage_error);
    CHECK_THROWS_AS(parse({"--root", s.path + "/missing"}), usage_error);
    CHECK_THROWS_AS(parse({"--root", s.path, "--exec-timeout", "100", "--exec-timeout-max", "50"}),
                    usage_error);
    CHECK_THROWS_AS(parse({"--root", s.path, "--state-dir", s.path + "/workspace"}), usage_error);
    CHECK_THROWS_AS(parse({"--root", s.path, "--threads", "0"}), usage_error);
    CHECK_THROWS_AS(parse({"--root", s.path, "--token", "  "}), usage_error);
    CHECK_THROWS_AS(parse({"--root", s.path, "--base-domain", "not a domain"}), usage_error);
}

TEST_CASE("validated values: agent id, base domain, origins, URLs") {
    test::temp_dir s;
    auto ok = [&](std::vector<std::string> extra) {
        extra.insert(extra.begin(), {"--root", s.path});
        CHECK_NOTHROW(parse(extra));
    };
    auto bad = [&](std::vector<std::string> extra) {
        extra.insert(extra.begin(), {"--root", s.path});
        CHECK_THROWS_AS(parse(extra), usage_error);
    };
    ok({"--agent-id", "a-1"});
    ok({"--agent-id", std::string(63, 'x')});
    for (const std::string& id : std::vector<std::string>{"", "A", "a_b", "a.b", std::string(64, 'x')})
        bad({"--agent-id", id});
    ok({"--base-domain", "agents.example"});
    ok({"--base-domain", "a-1.b2.example"});
    for (std::string d : std::vector<std::string>{"example", "-a.example", "a-.example", "a..example",
                                                  "a.example.", "a b.example"})
        bad({"--base-domain", d});
    ok({"--allow-origin", "https://console.example:8443"});
    for (std::string o :
         std::vector<std::string>{"https://x.example/", "ftp://x.example", "https://", "https://x?y"})
        bad({"--allow-origin", o});
    ok({"--engine-url", "http://127.0.0.1:3000/hooks/agent"});
    for (std::string u : std::vector<std::string>{"http://", "http://x y", "https://h?q", "mailto:x"})
        bad({"--engine-url", u});
}

TEST_CASE("--loki-url: plain http, from the command line, the environment and the config file") {
    test::temp_dir s;
    CHECK_FALSE(parse({"--root", s.path}).loki_url);
    CHECK(parse({"--root", s.path, "--loki-url", "http://127.0.0.1:3100"}).loki_url ==
          "http://127.0.0.1:3100");
    CHECK(parse({"--root", s.path}, {"AGENT_GATEWAY_LOKI_URL=http://[::1]:3100/proxy/push"}).loki_url ==
          "http://[::1]:3100/proxy/push");
    std::ofstream(s.path + "/c.json") << R"({"loki-url":"http://loki.internal:3100"})";
    CHECK(parse({"--root", s.path, "--config", s.path + "/c.json"}).loki_url == "http://loki.internal:3100");
    for (std::string u :
         std::vector<std::string>{"", "https://127.0.0.1:3100", "http://", "http://u:p@h:3100",
                                  "http://h:3100/push?x=1", "http://h/x#y", "127.0.0.1:3100"})
        CHECK_THROWS_AS(parse({"--root", s.path, "--loki-url", u}), usage_error);
}
