#include "app/daemon.hpp"

#include "app/lifecycles.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "engine/child_ledger.hpp"
#include "engine/child_reaper.hpp"
#include "engine/manifest.hpp"
#include "engine/processes.hpp"
#include "engine/pty_session.hpp"
#include "engine/scripts.hpp"
#include "engine/supervisor.hpp"
#include "engine/workload_limits.hpp"
#include "files/writes.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/server.hpp"
#include "git/clone_cache.hpp"
#include "git/libgit2.hpp"
#include "git/workspace.hpp"
#include "handlers/routes.hpp"
#include "handlers/skills.hpp"
#include "logs/file_follower.hpp"
#include "logs/hub.hpp"
#include "logs/journal.hpp"
#include "logs/loki_shipper.hpp"
#include "metrics/registry.hpp"
#include "metrics/work.hpp"
#include "platform/signer.hpp"
#include "proxy/agent_front_door.hpp"
#include "proxy/domains.hpp"
#include "proxy/engine_trust.hpp"
#include "proxy/path_routes.hpp"
#include "runtime/async_mutex.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "runtime/watchdog.hpp"
#include "settings/config_file.hpp"
#include "settings/engine_cli.hpp"
#include "snapshots/service.hpp"
#include "tasks/clock.hpp"
#include "tasks/delivery.hpp"
#include "tasks/scheduler.hpp"
#include "tasks/store.hpp"
#include "tasks/zones.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <functional>

namespace ag::app {
namespace {

using namespace std::chrono_literals;

// The first start of this agent's daemon, kept under STATE so the agent's createdAt is stable.
std::string load_created_at(const std::string& state_dir) {
    std::string path = state_dir + "/agent.json";
    std::ifstream in(path);
    if (in) {
        try {
            auto j = nlohmann::json::parse(in);
            if (j.contains("createdAt") && j["createdAt"].is_string())
                return j["createdAt"].get<std::string>();
        } catch (const std::exception&) {
        }
    }
    std::string now = time_format::iso8601_ms_now();
    try {
        fs_util::write_file_atomic(path, nlohmann::json{{"createdAt", now}}.dump() + "\n", 0600);
    } catch (const std::exception& e) {
        log::warn("cannot record createdAt in {}: {}", path, e.what());
    }
    return now;
}

// The daemon's own log lines (not the access log) become entries with source "agent-gateway".
void tap_to_hub(void* context, log::level lvl, std::string_view message) {
    logs::level l = logs::level::info;
    switch (lvl) {
    case log::level::trace:
        l = logs::level::trace;
        break;
    case log::level::debug:
        l = logs::level::debug;
        break;
    case log::level::info:
    case log::level::off:
        l = logs::level::info;
        break;
    case log::level::warn:
        l = logs::level::warn;
        break;
    case log::level::error:
        l = logs::level::error;
        break;
    }
    static_cast<logs::hub*>(context)->publish(l, "agent-gateway", message);
}

std::unique_ptr<platform::signer> load_platform_key(const config& cfg) {
    if (!cfg.platform_key)
        return nullptr;
    try {
        return std::make_unique<platform::signer>(platform::signer::from_pem_file(*cfg.platform_key));
    } catch (const platform::invalid_key& e) {
        throw usage_error(fmt::format("--platform-key '{}': {}", *cfg.platform_key, e.what()));
    }
}

std::unique_ptr<logs::loki_shipper> make_loki_shipper(const config& cfg, server& srv, logs::journal& j) {
    if (!cfg.loki_url)
        return nullptr;
    logs::loki_shipper::options o;
    o.url = *cfg.loki_url;
    o.agent_id = cfg.agent_id;
    o.state_dir = cfg.state_dir;
    try {
        return std::make_unique<logs::loki_shipper>(srv.main_context(), srv.pool(), j, std::move(o));
    } catch (const std::invalid_argument& e) {
        throw usage_error(fmt::format("--loki-url '{}': {}", *cfg.loki_url, e.what()));
    }
}

engine::processes::options process_options(const config& cfg) {
    engine::processes::options o;
    o.dir = cfg.state_dir + "/processes";
    o.output_bytes = cfg.process_output_bytes;
    o.env = {{"AGENT_ID", cfg.agent_id}};
    return o;
}

std::unique_ptr<engine::supervisor> make_engine(const config& cfg, asio::io_context& ioc,
                                                engine::child_reaper& reaper, logs::hub& hub) {
    if (!cfg.engine)
        return nullptr;
    return std::make_unique<engine::supervisor>(
        ioc, reaper, hub,
        engine::process_spec{"engine", *cfg.engine, cfg.root,
                             engine::environment_with({{"AGENT_ID", cfg.agent_id}}), "engine"});
}

} // namespace

struct daemon::parts {
    parts(const parts&) = delete;
    parts& operator=(const parts&) = delete;
    parts(const config& c, auth::token_store& t)
        : cfg(c)
        , tokens(t)
        , srv(c, t)
        , dog(srv.main_context())
        , limits({c.workload_max_pids, c.workload_max_memory})
        , ledger(c.state_dir + "/children")
        , reaper(srv.main_context())
        , terminals(srv.main_context(), reaper, std::chrono::seconds(c.pty_idle_timeout))
        , procs(srv.main_context(), reaper, srv.pool(), process_options(c))
        , manifest(c.manifest)
        , journal(c.state_dir + "/logs")
        , hub(journal)
        , loki(make_loki_shipper(c, srv, journal))
        , engine_proc(make_engine(c, srv.main_context(), reaper, hub))
        , scripts(srv.main_context(), reaper, hub, manifest,
                  {c.root, engine::environment_with({{"AGENT_ID", c.agent_id}})})
        , git_ws(c.workspace)
        , git_cache(c.state_dir + "/git-pack", git_ws,
                    [this](std::function<void()> job) { srv.pool().start(std::move(job), true); })
        , snapshots(git_ws, c.state_dir, c.cid_version, c.ipfs_api)
        , skills(c.workspace)
        , created_at(load_created_at(c.state_dir))
        , routes(c.state_dir + "/port-forwarding.json")
        , names(c.state_dir, c.base_domain)
        , door(c, routes, names, t)
        , task_store(c.state_dir + "/tasks")
        , task_clock(srv.main_context().get_executor())
        , task_delivery({c.engine_url,
                         c.engine_hooks_token_file,
                         c.root,
                         c.workspace,
                         {{"AGENT_ID", c.agent_id}},
                         static_cast<std::size_t>(c.exec_max_output)},
                        reaper, srv.pool(), execs_running)
        , task_scheduler(srv.main_context().get_executor(), task_store, zones, task_clock, srv.pool(),
                         task_delivery)
        , platform_key(load_platform_key(c))
        , engine_config(c.engine_config ? std::make_unique<settings::config_file>(*c.engine_config) : nullptr)
        , engine_cli(c.engine_cli ? std::make_unique<settings::engine_cli>(
                                        settings::engine_cli::options{*c.engine_cli,
                                                                      c.root,
                                                                      c.state_dir,
                                                                      {{"AGENT_ID", c.agent_id}},
                                                                      std::chrono::seconds(30)},
                                        reaper)
                                  : nullptr) {
        settings::engine_cli::remove_leftovers(c.state_dir);
        procs.load(); // docs/api.md §18: the records of the processes before this start
        // A PUT cut by a crash between its link and its rename left a named temp file (docs/api.md §19).
        files::recover_puts(c.state_dir);
        // Before the first child: the engine, scripts and execs must not take the daemon down.
        reaper.set_limits(&limits);
        reaper.set_ledger(&ledger);
        log::info("workload limits: {}", limits.describe());
        // Before anything serves or builds: the workspace must be a repository (docs/api.md §13).
        try {
            git_ws.prepare();
            git_cache.load();
            snapshots.load();
        } catch (const git::error& e) {
            throw usage_error(fmt::format("--workspace '{}': {}", c.workspace, e.what()));
        }
        // docs/api.md §10: before the engine starts, so it reads the addresses it must trust.
        if (cfg.engine_config)
            try {
                proxy::trust_loopback_in_engine_config(*cfg.engine_config);
            } catch (const std::exception& e) {
                log::warn(
                    "engine config {}: could not add the loopback addresses to gateway.trustedProxies: {}",
                    *cfg.engine_config, e.what());
            }
        if (!cfg.engine_log.empty())
            follower = std::make_unique<logs::file_follower>(hub, cfg.engine_log);
        log::set_tap(&tap_to_hub, &hub);
        add_routes();
        add_lifecycles();
        if (cfg.metrics)
            add_metrics();
        srv.set_front_door(door);
        srv.on_reload([this] {
            tokens.reload(true);
            door.reload_engine_token(true);
            manifest.reload();
            routes.reload();
            names.reload();
            task_scheduler.refresh_zones();
        });
    }
    ~parts() { log::set_tap(nullptr, nullptr); }

    // Each area gets only the parts it uses; its handlers keep a copy of that.
    void add_routes() {
        router& r = srv.routes();
        auto& pool = srv.pool();
        agent_routes{cfg,  manifest,   engine_proc.get(), scripts,        skills,
                     pool, created_at, &routes,           &task_scheduler}
            .add_to(r);
        console_routes{cfg, reaper, execs_running, work}.add_to(r);
        terminal_routes{cfg, terminals, tokens}.add_to(r);
        process_routes{cfg, procs, pool}.add_to(r);
        file_routes{cfg, pool}.add_to(r);
        file_write_routes{cfg, pool}.add_to(r);
        file_archive_routes{cfg, pool}.add_to(r);
        file_watch_routes{cfg, pool, tokens}.add_to(r);
        upload_routes{cfg, pool}.add_to(r);
        log_routes{hub, tokens}.add_to(r);
        git_routes{git_ws, &git_cache, manifest, scripts, pool, work}.add_to(r);
        snapshot_routes{cfg, snapshots, git_ws, pool, work}.add_to(r);
        port_forwarding_routes{routes, pool}.add_to(r);
        domain_routes{names, pool}.add_to(r);
        task_routes{task_scheduler, pool}.add_to(r);
        platform_routes{cfg, platform_key.get()}.add_to(r);
        control_plane_routes{}.add_to(r);
        openapi_routes{}.add_to(r);
        console_page_routes{}.add_to(r);
        settings_routes{engine_config.get(), engine_cli.get(), engine_proc.get(), pool, config_gate}.add_to(
            r);
        if (cfg.metrics)
            metrics_routes{metrics}.add_to(r);
    }

    // docs/api.md §16. After every route is added: each gets its own series.
    void add_metrics() {
        srv.enable_metrics(metrics);
        auto& m = metrics;
        m.expose("agent_gateway_exec_duration_seconds", "Console commands, from start to exit", {},
                 work.exec_seconds);
        m.expose("agent_gateway_exec_timeouts_total", "Console commands killed at their timeout", {},
                 work.exec_timeouts);
        m.add_gauge_fn("agent_gateway_execs_running", "Console commands running now", {},
                       [this] { return static_cast<double>(execs_running.load(std::memory_order_relaxed)); });
        m.expose("agent_gateway_git_duration_seconds", "Git Smart HTTP exchanges, by service",
                 {{"service", "git-upload-pack"}}, work.git_upload_pack_seconds);
        m.expose("agent_gateway_git_duration_seconds", "Git Smart HTTP exchanges, by service",
                 {{"service", "git-receive-pack"}}, work.git_receive_pack_seconds);
        m.expose("agent_gateway_snapshot_duration_seconds",
                 "Snapshots taken (on request or automatic) and restored", {{"kind", "create"}},
                 work.snapshot_create_seconds);
        m.expose("agent_gateway_snapshot_duration_seconds",
                 "Snapshots taken (on request or automatic) and restored", {{"kind", "restore"}},
                 work.snapshot_restore_seconds);
        m.expose("agent_gateway_log_entries_total", "Log entries published", {}, hub.published());
        m.expose("agent_gateway_log_entries_dropped_total", "Log entries a lagging subscriber skipped", {},
                 hub.dropped());
        for (const char* status : {"ok", "error", "skipped"})
            m.expose("agent_gateway_task_runs_total", "Task runs recorded, by status", {{"status", status}},
                     task_scheduler.runs_with(status));
        m.expose("agent_gateway_proxy_websockets_open",
                 "WebSocket tunnels open now through the front door (apps and the engine's chat)", {},
                 door.tunnels_open());
        if (loki) {
            m.expose("agent_gateway_loki_entries_shipped_total", "Log entries Loki accepted", {},
                     loki->shipped());
            m.expose("agent_gateway_loki_push_failures_total",
                     "Pushes to Loki that failed and are retried (no answer, 429, 5xx)", {},
                     loki->failures());
            m.expose("agent_gateway_loki_entries_rejected_total",
                     "Log entries in batches Loki refused for good (4xx), skipped", {}, loki->rejected());
            m.expose("agent_gateway_loki_entries_lost_total",
                     "Log entries the journal dropped before they could be shipped", {}, loki->lost());
            m.add_gauge_fn("agent_gateway_loki_lag_entries", "Journal entries not yet accepted by Loki", {},
                           [this] { return static_cast<double>(loki->lag()); });
        }
        for (bool engine : {false, true})
            for (unsigned status : {502u, 504u})
                m.expose("agent_gateway_proxy_upstream_errors_total",
                         "Proxied requests the daemon answered itself because the upstream failed",
                         {{"upstream", engine ? "engine" : "app"}, {"status", std::to_string(status)}},
                         door.upstream_errors(engine, status));
        if (engine_proc) {
            for (auto s :
                 {engine::run_state::not_running, engine::run_state::starting, engine::run_state::running})
                m.add_gauge_fn("agent_gateway_engine_state", "1 for the supervised engine's current state",
                               {{"state", std::string(engine::state_name(s))}},
                               [this, s] { return engine_proc->current().state == s ? 1.0 : 0.0; });
            m.add_counter_fn("agent_gateway_engine_restarts_total",
                             "Unexpected engine exits that led to a restart", {},
                             [this] { return static_cast<double>(engine_proc->current().restarts); });
        }
    }

    // In start order; the server stops them in reverse.
    void add_lifecycles() {
        auto& ioc = srv.main_context();
        auto& pool = srv.pool();
        // First, so it stops last: the pings say the main loop turns, and it still does while the daemon
        // drains and stops the engine.
        srv.add_service(dog);
        // Next to last to stop: its idle upstream connections close after every request ended.
        srv.add_service(door);
        if (tokens.file() || cfg.engine_token_file)
            lifecycles.push_back(std::make_unique<periodic_job>("token file watch", ioc, 500ms,
                                                                [this]() -> asio::awaitable<void> {
                                                                    if (tokens.file())
                                                                        tokens.reload();
                                                                    door.reload_engine_token();
                                                                    co_return;
                                                                }));
        // Early, so it stops late: what the engine and the scripts print while they stop is in the journal
        // and goes out after the next start if not before.
        if (loki)
            srv.add_service(*loki);
        lifecycles.push_back(std::make_unique<plain_service>(
            "child reaper", [this] { reaper.start(); }, [this] { reaper.stop(); }));
        // Stops before the reaper: the sessions' groups get SIGHUP while their exits can still be seen.
        lifecycles.push_back(std::make_unique<plain_service>(
            "terminal sessions", [] {}, [this] { terminals.stop(); }));
        // docs/api.md §18: ended as the engine is, before the reaper stops; their records stay.
        lifecycles.push_back(std::make_unique<async_stopped_service>(
            "background processes", ioc, [] {}, [this] { return procs.stop(); }));
        if (engine_proc)
            lifecycles.push_back(std::make_unique<async_stopped_service>(
                "engine", ioc, [this] { engine_proc->start(); }, [this] { return engine_proc->stop(); }));
        lifecycles.push_back(std::make_unique<async_stopped_service>(
            "scripts", ioc,
            [this] {
                if (scripts.configured())
                    scripts.rebuild();
            },
            [this] { return scripts.stop(); }));
        if (follower) {
            follower->tick(); // notes where the existing files end
            // Engine log files are polled twice a second on the pool (file reads never block an I/O thread).
            lifecycles.push_back(std::make_unique<periodic_job>("engine log follower", ioc, 500ms,
                                                                [this, &pool]() -> asio::awaitable<void> {
                                                                    auto tick = [this] { follower->tick(); };
                                                                    co_await pool.run(tick);
                                                                }));
        }
        lifecycles.push_back(std::make_unique<plain_service>(
            "clone cache", [this] { git_cache.rebuild_in_background(); }, [this] { git_cache.stop(); }));
        // With --ipfs-api: pending pins are retried 1 s after a failure, doubling to 60 s.
        if (snapshots.pinning_configured())
            lifecycles.push_back(std::make_unique<periodic_job>(
                "snapshot pinner", ioc, 1s, [this, &pool]() -> asio::awaitable<void> {
                    auto now = std::chrono::steady_clock::now();
                    if (snapshots.pins_pending() == 0) {
                        pin_failures = 0;
                        co_return;
                    }
                    if (now < next_pin)
                        co_return;
                    auto pin = [this] { return snapshots.pin_pending(); };
                    auto err = co_await pool.call(pin);
                    pin_failures = err ? pin_failures + 1 : 0;
                    auto delay = snapshots::service::pin_retry_delay(pin_failures);
                    next_pin = std::chrono::steady_clock::now() + delay;
                    if (err)
                        log::warn("snapshots: pinning failed, retrying in {} s: {}", delay.count(), *err);
                }));
        // docs/api.md §12: a snapshot every --snapshot-interval seconds when the workspace changed (a clean
        // workspace costs one pass of stat calls).
        if (cfg.snapshot_interval > 0)
            lifecycles.push_back(std::make_unique<periodic_job>(
                "automatic snapshots", ioc, std::chrono::seconds(cfg.snapshot_interval),
                [this, &pool]() -> asio::awaitable<void> {
                    auto turn = co_await git_ws.enter();
                    auto started = std::chrono::steady_clock::now();
                    auto sync = [&] { return snapshots.sync(turn, "Automatic snapshot").created; };
                    bool created = co_await pool.call(sync);
                    if (created) // a clean workspace's pass is not a snapshot
                        work.snapshot_create_seconds.observe(std::chrono::steady_clock::now() - started);
                }));
        for (auto& l : lifecycles)
            srv.add_service(*l);
        srv.add_service(task_scheduler); // stops first: its runs end before the engine and the reaper stop
    }

    const config& cfg;
    auth::token_store& tokens;
    server srv;
    watchdog dog;                   // systemd's WatchdogSec=, pinged from the main loop
    engine::workload_limits limits; // before the reaper, which hands it every child
    engine::child_ledger ledger;    // before the reaper: what an earlier run left is killed first
    engine::child_reaper reaper;
    engine::pty_sessions terminals; // docs/api.md §17
    engine::processes procs;        // docs/api.md §18
    engine::manifest_store manifest;
    logs::journal journal;
    logs::hub hub;
    std::unique_ptr<logs::loki_shipper> loki; // with --loki-url
    std::unique_ptr<engine::supervisor> engine_proc;
    engine::scripts scripts;
    std::unique_ptr<logs::file_follower> follower;
    git::workspace git_ws;
    git::clone_cache git_cache;
    snapshots::service snapshots;
    skills::catalog skills;
    std::string created_at;
    proxy::path_routes routes;
    proxy::domains names;
    proxy::agent_front_door door;
    std::atomic<int> execs_running{0};
    tasks::zones zones;
    tasks::store task_store;
    tasks::system_time_source task_clock;
    tasks::engine_delivery task_delivery;
    tasks::scheduler task_scheduler;
    std::unique_ptr<const platform::signer> platform_key;
    std::unique_ptr<settings::config_file> engine_config;
    std::unique_ptr<const settings::engine_cli> engine_cli;
    async_mutex config_gate;
    unsigned pin_failures = 0; // in a row; the pinner job's own (worker 0 only)
    std::chrono::steady_clock::time_point next_pin;
    std::vector<std::unique_ptr<service>> lifecycles;
    metrics::work work;
    metrics::registry metrics;
};

daemon::daemon(const config& cfg, auth::token_store& tokens)
    : parts_(std::make_unique<parts>(cfg, tokens)) {}
daemon::~daemon() = default;

std::vector<std::string> daemon::bind() {
    auto bound = parts_->srv.bind();
    // No path route may take a port this daemon listens on; the seed from the manifest is checked so too.
    std::vector<std::uint16_t> ports;
    for (const auto& b : bound)
        if (!b.starts_with("unix:"))
            ports.push_back(static_cast<std::uint16_t>(std::stoul(b.substr(b.rfind(':') + 1))));
    parts_->routes.set_own_ports(ports);
    parts_->names.set_own_ports(std::move(ports));
    parts_->names.load();
    parts_->routes.load(parts_->manifest.current()->routes_json);
    try {
        parts_->task_scheduler.load(parts_->manifest.current()->tasks_json);
    } catch (const std::runtime_error& e) {
        throw usage_error(std::string("tasks: ") + e.what());
    }
    return bound;
}
int daemon::run() {
    return parts_->srv.run();
}
void daemon::request_stop() {
    parts_->srv.request_stop();
}
const router& daemon::routes() const {
    return parts_->srv.routes();
}

} // namespace ag::app
