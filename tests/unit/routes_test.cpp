// Route objects alone: each is built from only what it holds and called value in, value out, with no
// server, socket or other area (handlers/routes.hpp).
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "engine/child_reaper.hpp"
#include "engine/manifest.hpp"
#include "engine/scripts.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "git/workspace.hpp"
#include "handlers/routes.hpp"
#include "handlers/skills.hpp"
#include "logs/hub.hpp"
#include "logs/journal.hpp"
#include "metrics/work.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "snapshots/service.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

using namespace ag;
using namespace ag::net;

namespace {

config config_for(const std::string& root) {
    std::vector<const char*> argv{"agent-gateway", "--root", root.c_str()};
    const char* envp[] = {nullptr};
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), envp).cfg;
}

// Matches `target` in `r` and runs its handler to the end on `ioc` (a fresh one by default); an api_error
// becomes its error response.
response call(const router& r, method verb, std::string_view target, std::string body = {},
              asio::io_context* on = nullptr) {
    request req;
    req.verb = verb;
    req.target = target;
    auto q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos)
        req.query = text::parse_query(target.substr(q + 1));
    auto m = r.match(verb, req.path, false);
    REQUIRE(m.found);
    req.params = m.params;
    req.body = std::move(body);
    asio::io_context own;
    asio::io_context& ioc = on ? *on : own;
    std::optional<response> out;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            try {
                out = co_await m.found->handler(req);
            } catch (const api_error& e) {
                out = error_response(e);
            }
        },
        asio::detached);
    ioc.restart();
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
         !out && std::chrono::steady_clock::now() < until;)
        ioc.run_one_for(std::chrono::milliseconds(100));
    REQUIRE(out);
    return std::move(*out);
}

std::string file_body(const response& res) {
    if (!res.file)
        return res.body;
    std::string s(res.file->length, '\0');
    CHECK(::pread(res.file->fd, s.data(), s.size(), static_cast<off_t>(res.file->offset)) ==
          static_cast<ssize_t>(s.size()));
    return s;
}

// What the agent and git areas share: the manifest and the scripts, with the reaper and log hub they need.
struct engine_parts {
    explicit engine_parts(const config& cfg)
        : journal(cfg.state_dir + "/logs")
        , hub(journal)
        , manifest(cfg.manifest)
        , scripts(ioc, reaper, hub, manifest, {cfg.root, {}}) {}
    asio::io_context ioc;
    engine::child_reaper reaper{ioc};
    logs::journal journal;
    logs::hub hub;
    engine::manifest_store manifest;
    engine::scripts scripts;
};

// The workspace as a repository holding one committed file.
std::unique_ptr<git::workspace> workspace_with(const config& cfg, const std::string& file) {
    std::filesystem::create_directories(cfg.workspace);
    std::ofstream(cfg.workspace + "/" + file) << file << "\n";
    auto ws = std::make_unique<git::workspace>(cfg.workspace);
    ws->prepare();
    return ws;
}

} // namespace

TEST_CASE("file_routes alone: a file, a listing, a missing path (paths are under ROOT, docs/api.md §9)") {
    test::temp_dir root;
    config cfg = config_for(root.path);
    std::ofstream(cfg.root + "/notes.md") << "# notes\n";
    blocking_pool pool(1, 1);
    router r;
    file_routes{cfg, pool}.add_to(r);

    auto file = call(r, method::get, "/v0/agents/local/files?path=notes.md");
    CHECK(file.status == 200);
    CHECK(file_body(file) == "# notes\n");
    auto listing = call(r, method::get, "/v0/agents/local/files?path=.");
    CHECK(listing.status == 200);
    CHECK(listing.body.find("notes.md") != std::string::npos);
    CHECK(call(r, method::get, "/v0/agents/local/files?path=nothing-here").status == 404);
}

TEST_CASE("upload_routes alone: a file lands under uploads/, a bad body is refused") {
    test::temp_dir root;
    config cfg = config_for(root.path);
    blocking_pool pool(1, 1);
    router r;
    upload_routes{cfg, pool}.add_to(r);

    auto ok = call(r, method::post, "/v0/agents/local/files/upload",
                   R"({"filename":"a.txt","contentBase64":"aGVsbG8="})");
    REQUIRE(ok.status == 200);
    auto path = nlohmann::json::parse(ok.body)["path"].get<std::string>();
    CHECK(path == cfg.workspace + "/uploads/a.txt");
    std::ifstream in(path);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "hello");
    CHECK(call(r, method::post, "/v0/agents/local/files/upload", R"({"filename":"b.txt"})").status == 400);
}

TEST_CASE("console_routes alone: an exec runs with only a reaper and a counter") {
    test::temp_dir root;
    config cfg = config_for(root.path);
    asio::io_context ioc;
    engine::child_reaper reaper(ioc);
    reaper.start();
    std::atomic<int> running{0};
    router r;
    metrics::work counted;
    console_routes{cfg, reaper, running, counted}.add_to(r);

    auto res =
        call(r, method::post, "/v0/agents/local/console/exec", R"({"command":"echo hi; exit 3"})", &ioc);
    REQUIRE(res.status == 200);
    auto j = nlohmann::json::parse(res.body);
    CHECK(j["stdout"] == "hi\n");
    CHECK(j["exitCode"] == 3);
    CHECK(running == 0);
    CHECK(call(r, method::post, "/v0/agents/local/console/exec", R"({"nocommand":1})", &ioc).status == 400);
    reaper.stop();
}

TEST_CASE("log_routes alone: the journal's last lines, and the lines limit") {
    test::temp_dir state;
    logs::journal journal(state.path + "/logs");
    logs::hub hub(journal);
    auto tokens = auth::token_store::fixed("t");
    router r;
    log_routes{hub, tokens}.add_to(r);
    for (int i = 0; i < 5; ++i)
        hub.publish(logs::level::info, "engine", "line " + std::to_string(i));

    auto res = call(r, method::get, "/v0/agents/local/logs?lines=2");
    REQUIRE(res.status == 200);
    auto text = nlohmann::json::parse(res.body)["logs"].get<std::string>();
    CHECK(text.find("line 3") != std::string::npos);
    CHECK(text.find("line 4") != std::string::npos);
    CHECK(text.find("line 2") == std::string::npos);
    CHECK(call(r, method::get, "/v0/agents/local/logs?lines=0").status == 400);
}

TEST_CASE("agent_routes alone: the detail names the skills, and a new skill shows on the next GET") {
    test::temp_dir root;
    config cfg = config_for(root.path);
    std::filesystem::create_directories(cfg.workspace + "/skills/weather");
    std::ofstream(cfg.workspace + "/skills/weather/SKILL.md") << "---\nname: Weather\n---\n";
    engine_parts parts(cfg);
    auto& ioc = parts.ioc;
    skills::catalog skills(cfg.workspace);
    blocking_pool pool(1, 1);
    router r;
    agent_routes{cfg, parts.manifest, nullptr, parts.scripts, skills, pool, "2026-12-01T00:00:00.000Z"}
        .add_to(r);

    auto first = nlohmann::json::parse(call(r, method::get, "/v0/agents/local", {}, &ioc).body);
    CHECK(first["agent"]["agentId"] == "local");
    REQUIRE(first["skills"].size() == 1);
    CHECK(first["skills"][0]["name"] == "Weather");
    std::filesystem::create_directories(cfg.workspace + "/skills/maps");
    std::ofstream(cfg.workspace + "/skills/maps/SKILL.md") << "---\nname: Maps\n---\n";
    auto second = nlohmann::json::parse(call(r, method::get, "/v0/agents/local", {}, &ioc).body);
    CHECK(second["skills"].size() == 2);
    // Without --engine there is nothing to restart.
    CHECK(call(r, method::post, "/v0/agents/local/restart", {}, &ioc).status >= 400);
}

TEST_CASE("git_routes alone: the advertisement names main, and only smart HTTP services are served") {
    test::temp_dir root;
    config cfg = config_for(root.path);
    auto workspace = workspace_with(cfg, "README.md");
    git::workspace& ws = *workspace;
    engine_parts parts(cfg);
    auto& ioc = parts.ioc;
    blocking_pool pool(1, 1);
    router r;
    metrics::work counted;
    git_routes{ws, nullptr, parts.manifest, parts.scripts, pool, counted}.add_to(r);

    auto refs = call(r, method::get, "/v0/agents/local/git/info/refs?service=git-upload-pack", {}, &ioc);
    REQUIRE(refs.status == 200);
    CHECK(refs.content_type == "application/x-git-upload-pack-advertisement");
    CHECK(refs.body.rfind("001e# service=git-upload-pack\n0000", 0) == 0);
    CHECK(refs.body.find("refs/heads/main") != std::string::npos);
    CHECK(call(r, method::get, "/v0/agents/local/git/info/refs?service=git-archive", {}, &ioc).status == 403);
}

TEST_CASE("snapshot_routes alone: a sync records a snapshot the listing then shows") {
    test::temp_dir root;
    config cfg = config_for(root.path);
    auto workspace = workspace_with(cfg, "a.txt");
    git::workspace& ws = *workspace;
    snapshots::service snaps(ws, cfg.state_dir, 0);
    snaps.load();
    blocking_pool pool(1, 1);
    router r;
    metrics::work counted;
    snapshot_routes{cfg, snaps, ws, pool, counted}.add_to(r);

    std::ofstream(cfg.workspace + "/b.txt") << "b\n";
    auto sync = call(r, method::post, "/v0/agents/local/snapshots/sync");
    REQUIRE(sync.status == 200);
    auto cid = nlohmann::json::parse(sync.body)["snapshotCid"];
    REQUIRE(cid.is_string());
    auto list = nlohmann::json::parse(call(r, method::get, "/v0/agents/local/snapshots").body);
    CHECK(list.dump().find(cid.get<std::string>()) != std::string::npos);
    CHECK(call(r, method::get, "/v0/agents/local/snapshots/not-a-cid/car").status == 400);
}
