#pragma once
// One route object per API area: it holds only what its handlers use, and add_to() registers them. The
// composition root (app/daemon.cpp) builds each from the long-lived parts; a test can build one alone.
// Handlers keep a copy of their object (references to long-lived parts, and small values).
#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ag {

struct config;
class async_mutex;
class blocking_pool;
class router;
namespace auth {
class token_store;
}
namespace engine {
class child_reaper;
class processes;
class pty_sessions;
class manifest_store;
class supervisor;
class scripts;
} // namespace engine
namespace logs {
class hub;
}
namespace git {
class workspace;
class clone_cache;
} // namespace git
namespace snapshots {
class service;
}
namespace skills {
class catalog;
}
namespace proxy {
class path_routes;
class domains;
} // namespace proxy
namespace tasks {
class scheduler;
}
namespace platform {
class signer;
}
namespace metrics {
class registry;
struct work;
} // namespace metrics
namespace files {
class guard;
}
namespace settings {
class config_file;
class engine_cli;
} // namespace settings

// docs/api.md §6: the agent, engine restart, scripts retry, whoami.
struct agent_routes {
    const config& cfg;
    engine::manifest_store& manifest;
    engine::supervisor* engine; // null without --engine
    engine::scripts& scripts;
    skills::catalog& skills;
    blocking_pool& pool;
    std::string created_at; // ISO-8601, the first start of this agent's daemon (kept under STATE)
    proxy::path_routes* routes = nullptr; // listed as portForwarding
    tasks::scheduler* tasks = nullptr;    // summarised as tasks
    // The last agent detail body and what it was made of, shared by the handlers' copies.
    std::shared_ptr<struct agent_detail_cache> detail = make_detail_cache();
    void add_to(router& r) const;
    static std::shared_ptr<agent_detail_cache> make_detail_cache();
};

// docs/api.md §8: console exec.
struct console_routes {
    const config& cfg;
    engine::child_reaper& reaper;
    std::atomic<int>& execs_running;
    metrics::work& counted;
    void add_to(router& r) const;
};

// docs/api.md §8: a console command's working directory: WORKSPACE when empty, a relative one under ROOT; it
// must be a directory. Throws api_error 400 "Invalid cwd". (Exec and terminal sessions alike.)
std::string console_cwd(const config& cfg, std::string_view cwd);

// docs/api.md §8: a console command's extra environment from the request's `env` (absent or null: none).
// Throws api_error 400 "Invalid env: …". (Exec and background processes alike.)
std::vector<std::pair<std::string, std::string>> console_env(const nlohmann::json& body);

// docs/api.md §18: background processes.
struct process_routes {
    const config& cfg;
    engine::processes& procs;
    blocking_pool& pool; // reads of their output
    void add_to(router& r) const;
};

// docs/api.md §17: terminal sessions.
struct terminal_routes {
    const config& cfg;
    engine::pty_sessions& sessions;
    auth::token_store& tokens; // a viewer closes when a rotation retires its token
    void add_to(router& r) const;
};

// docs/api.md §9: file reads and directory listings.
struct file_routes {
    const config& cfg;
    blocking_pool& pool;
    void add_to(router& r) const;
};

// docs/api.md §19: whole-file writes, removals and moves.
struct file_write_routes {
    file_write_routes(const config& c, blocking_pool& p);
    const config& cfg;
    blocking_pool& pool;
    std::string root;                    // ROOT, normalised
    std::shared_ptr<files::guard> guard; // what may not change (the daemon's own files)
    void add_to(router& r) const;
};

// docs/api.md §19: directory archives.
struct file_archive_routes {
    const config& cfg;
    blocking_pool& pool;
    void add_to(router& r) const;
};

// docs/api.md §19: watching a directory tree (a WebSocket).
struct file_watch_routes {
    const config& cfg;
    blocking_pool& pool;       // directory walks
    auth::token_store& tokens; // a watch closes when a rotation retires its token
    void add_to(router& r) const;
};

// docs/api.md §9: uploads.
struct upload_routes {
    const config& cfg;
    blocking_pool& pool;
    void add_to(router& r) const;
};

// docs/api.md §7: the log journal and its WebSocket stream.
struct log_routes {
    logs::hub& logs;
    auth::token_store& tokens; // a stream closes when a rotation retires its token
    void add_to(router& r) const;
};

// docs/api.md §13: Git Smart HTTP.
struct git_routes {
    git::workspace& git;
    git::clone_cache* git_cache; // null when clones are packed from scratch
    engine::manifest_store& manifest;
    engine::scripts& scripts;
    blocking_pool& pool;
    metrics::work& counted;
    void add_to(router& r) const;
};

// docs/api.md §11: the path routes.
struct port_forwarding_routes {
    proxy::path_routes& routes;
    blocking_pool& pool;
    void add_to(router& r) const;
};

// docs/api.md §11: the domains.
struct domain_routes {
    proxy::domains& domains;
    blocking_pool& pool;
    void add_to(router& r) const;
};

// docs/api.md §14: tasks.
struct task_routes {
    tasks::scheduler& tasks;
    blocking_pool& pool;
    void add_to(router& r) const;
};

// docs/api.md §15: platform tokens and the key that verifies them.
struct platform_routes {
    const config& cfg;
    const platform::signer* key; // null without --platform-key
    void add_to(router& r) const;
};

// docs/api.md §15: the engine's config file, its channels, its devices.
struct settings_routes {
    settings::config_file* file;     // null without --engine-config
    const settings::engine_cli* cli; // null without --engine-cli
    engine::supervisor* engine;      // restarted after a channel change; null without --engine
    blocking_pool& pool;
    async_mutex& config_gate; // one change at a time, from the engine's check to the write
    void add_to(router& r) const;
};

// docs/api.md §15: what the control plane manages answers 501.
struct control_plane_routes {
    void add_to(router& r) const;
};

// docs/api.md §21: the OpenAPI document of every route, for anyone.
struct openapi_routes {
    void add_to(router& r) const;
};

// docs/api.md §20: the console page and its assets, built into the binary.
struct console_page_routes {
    void add_to(router& r) const;
};

// docs/api.md §16: the metrics, for a scraper on this host or one holding the token.
struct metrics_routes {
    const metrics::registry& registry;
    void add_to(router& r) const;
};

// docs/api.md §12: snapshots.
struct snapshot_routes {
    const config& cfg;
    snapshots::service& snapshots;
    git::workspace& workspace; // entered before a sync or a reset (git::workspace::turn)
    blocking_pool& pool;
    metrics::work& counted;
    void add_to(router& r) const;
};

} // namespace ag
