// Command line (docs/api.md §1-§2), listeners, graceful shutdown, PID 1 reaping.
#include "support/engine_helpers.hpp"
#include "support/gateway.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <future>
#include <thread>

using test::gateway;

TEST_CASE("--help and --version") {
    auto help = test::run_binary({"--help"});
    CHECK(help.exit_code == 0);
    for (const char* opt : {"--listen",
                            "--agent-id",
                            "--token-file",
                            "--token",
                            "--root",
                            "--workspace",
                            "--state-dir",
                            "--engine",
                            "--engine-url",
                            "--engine-hooks-token-file",
                            "--engine-log",
                            "--engine-config",
                            "--engine-cli",
                            "--manifest",
                            "--base-domain",
                            "--snapshot-interval",
                            "--ipfs-api",
                            "--cid-version",
                            "--max-file-bytes",
                            "--exec-timeout",
                            "--exec-timeout-max",
                            "--exec-max-output",
                            "--allow-origin",
                            "--tls-cert",
                            "--tls-key",
                            "--platform-key",
                            "--log-level",
                            "--log-format",
                            "--config",
                            "--version"})
        CHECK_MESSAGE(help.out.find(opt) != std::string::npos, opt);
    auto version = test::run_binary({"--version"});
    CHECK(version.exit_code == 0);
    CHECK(version.out.rfind("agent-gateway ", 0) == 0);
    // The version and the commit built from, "agent-gateway 0.1.0 (commit 0123456789ab)" (for packages).
    CHECK_MESSAGE(version.out.find(" (commit ") != std::string::npos, version.out);
    CHECK(version.out.ends_with(")\n"));
}

TEST_CASE("bad usage and bad values exit 2 with a message") {
    test::temp_dir root;
    auto bad = [&](std::vector<std::string> args, const std::string& expect) {
        args.insert(args.begin(), {"--root", root.path, "--token", "t"});
        auto r = test::run_binary(args);
        CHECK_MESSAGE(r.exit_code == 2, args.back());
        CHECK_MESSAGE(r.err.find(expect) != std::string::npos, r.err);
    };
    bad({"--bogus"}, "unknown option '--bogus'");
    bad({"--listen"}, "needs a value");
    bad({"stray"}, "unexpected argument");
    bad({"--listen", "nowhere"}, "--listen");
    bad({"--listen", "127.0.0.1:70000"}, "--listen");
    bad({"--agent-id", "Bad_ID"}, "--agent-id");
    bad({"--cid-version", "2"}, "--cid-version");
    bad({"--snapshot-interval", "-1"}, "--snapshot-interval");
    bad({"--max-file-bytes", "lots"}, "--max-file-bytes");
    bad({"--exec-timeout", "700"}, "--exec-timeout");
    bad({"--log-level", "loud"}, "--log-level");
    bad({"--log-format", "xml"}, "--log-format");
    bad({"--engine-url", "ftp://x"}, "--engine-url");
    bad({"--ipfs-api", "not a url"}, "--ipfs-api");
    bad({"--allow-origin", "https://a.example/path"}, "--allow-origin");
    bad({"--tls-cert", "/nonexistent"}, "--tls-cert");
    bad({"--engine-config", "x.toml"}, "--engine-config");
    bad({"--token-file", "/nonexistent/token"}, "--token");
    bad({"--state-dir", root / "workspace/state"}, "must not be inside the workspace");
    bad({"--config", "/nonexistent.json"}, "--config");
    auto port_taken = [&] {
        gateway d;
        auto r = test::run_binary(
            {"--root", root.path, "--token", "t", "--listen", "127.0.0.1:" + std::to_string(d.port())});
        CHECK(r.exit_code == 1);
    };
    port_taken();
}

TEST_CASE("one daemon per state directory: a second one exits 1 naming the first; a kill -9 frees it") {
    test::temp_dir root;
    {
        gateway first({}, root.path);
        auto second = test::run_binary({"--root", root.path, "--token", "t", "--listen", "127.0.0.1:0"});
        CHECK(second.exit_code == 1);
        CHECK_MESSAGE(second.err.find("another agent-gateway (pid " + std::to_string(first.pid()) +
                                      ") serves the state directory") != std::string::npos,
                      second.err);
        CHECK(first.get("/healthz").status == 200);
        // Its own --state-dir is all a second daemon on the same root needs.
        gateway own({"--state-dir", root / "other"}, root.path);
        CHECK(own.get("/healthz").status == 200);
        first.stop(SIGKILL);
    }
    // The kernel let go of the lock with the process; nothing it left (its pid in the file) stands in the
    // way.
    gateway again({}, root.path);
    CHECK(again.get("/healthz").status == 200);
}

TEST_CASE("precedence: command line > environment > config file") {
    test::temp_dir root;
    test::write_file(root / "cfg.json",
                     R"({"agent-id":"from-file","max-file-bytes":100,"allow-origin":["https://f.example"]})");
    // File only.
    {
        gateway d({"--config", root / "cfg.json"}, root.path);
        CHECK(d.get("/v0/agents/from-file").status == 200);
    }
    // Environment beats the file; the command line beats both.
    {
        gateway d({"--config", root / "cfg.json"}, root.path, {}, {"AGENT_GATEWAY_AGENT_ID=from-env"});
        CHECK(d.get("/v0/agents/from-env").status == 200);
        CHECK(d.get("/v0/agents/from-file").status == 404);
    }
    {
        gateway d({"--config", root / "cfg.json", "--agent-id", "from-cli"}, root.path, {},
                  {"AGENT_GATEWAY_AGENT_ID=from-env"});
        CHECK(d.get("/v0/agents/from-cli").status == 200);
    }
    test::write_file(root / "bad.json", R"({"no-such-option":1})");
    auto unknown = test::run_binary({"--root", root.path, "--token", "t", "--config", root / "bad.json"});
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.err.find("no-such-option") != std::string::npos);
    auto env_bad = test::run_binary({"--root", root.path, "--token", "t"}, {"AGENT_GATEWAY_CID_VERSION=7"});
    CHECK(env_bad.exit_code == 2);
    CHECK(env_bad.err.find("AGENT_GATEWAY_CID_VERSION") != std::string::npos);
}

TEST_CASE("unix socket listener next to TCP") {
    test::temp_dir root;
    std::string sock = root / "gw.sock";
    gateway d({"--listen", "unix:" + sock, "--listen", "127.0.0.1:0"}, root.path);
    std::string cmd = "curl -s --max-time 5 --unix-socket " + sock + " -H 'Authorization: Bearer " +
                      std::string(gateway::token) + "' http://x/v0/agents/local/platform/whoami > " +
                      root / "o";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(nlohmann::json::parse(test::read_file(root / "o"))["agentId"] == "local");
    CHECK(d.stop() == 0);
    CHECK(!test::exists(sock));
}

TEST_CASE("SIGTERM: in-flight requests finish, idle connections close, exit 0") {
    gateway d;
    const std::string started = d.root() + "/exec-started";
    auto slow = std::async(std::launch::async, [&] {
        return d.post(d.api("/console/exec"), {{"command", "touch " + started + "; sleep 1; echo done"}});
    });
    REQUIRE(test::wait_until([&] { return test::exists(started); }, std::chrono::seconds(5)));
    auto t0 = std::chrono::steady_clock::now();
    ::kill(d.pid(), SIGTERM);
    auto r = slow.get();
    CHECK(r.status == 200);
    CHECK(r.json()["stdout"] == "done\n");
    CHECK(d.stop() == 0); // sends a second SIGTERM while the first one's shutdown may still be running
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

// Root, unshare and PID namespaces; without them doctest reports the case skipped.
bool pid_namespaces() {
    return ::geteuid() == 0 && ::access("/usr/bin/unshare", X_OK) == 0 &&
           std::system("unshare --pid --fork --mount-proc true 2>/dev/null") == 0;
}

TEST_CASE("as PID 1 the gateway reaps orphans" * doctest::skip(!pid_namespaces())) {
    gateway d({}, {}, {"unshare", "--pid", "--fork", "--kill-child", "--mount-proc"});
    auto pid1 = d.post(d.api("/console/exec"), {{"command", "cat /proc/$PPID/stat | cut -d' ' -f1"}});
    CHECK(pid1.json()["stdout"] == "1\n");
    // Double-fork: the grandchild is orphaned, reparented to PID 1 (us), and must not stay a zombie.
    for (int i = 0; i < 5; ++i)
        d.post(d.api("/console/exec"), {{"command", "(sh -c 'exit 0' &) ; true"}});
    // The orphans exit on their own schedule; each is reaped as its SIGCHLD arrives.
    std::string zombies;
    CHECK_MESSAGE(test::wait_until(
                      [&] {
                          zombies = d.post(d.api("/console/exec"),
                                           {{"command", "ps -eo stat= | grep -c '^Z' || true"}})
                                        .json()["stdout"];
                          return zombies == "0\n";
                      },
                      std::chrono::seconds(3)),
                  zombies);
}

TEST_CASE("a second SIGTERM during shutdown still exits 0, promptly") {
    for (int i = 0; i < 5; ++i) {
        gateway d;
        ::kill(d.pid(), SIGTERM);
        // Not a wait for anything: the second SIGTERM lands at a different point of the shutdown each round.
        std::this_thread::sleep_for(std::chrono::milliseconds(i * 3));
        auto t0 = std::chrono::steady_clock::now();
        CHECK(d.stop() == 0);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
    }
}

TEST_CASE("systemd readiness: READY=1 on NOTIFY_SOCKET once every listener is bound") {
    test::temp_dir dir;
    std::string path = dir / "notify.sock";
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    gateway d({}, {}, {}, {"NOTIFY_SOCKET=" + path});
    pollfd p{fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
    char buf[64] = {};
    auto n = ::recv(fd, buf, sizeof buf - 1, 0);
    CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "READY=1");
    CHECK(d.request("GET", "/healthz", {}, {}, false).status == 200);
    ::close(fd);
}
