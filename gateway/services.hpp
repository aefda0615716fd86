#pragma once
// What handlers may use: the configuration and the long-lived subsystems, owned by the server.
#include <atomic>
#include <string>

namespace ag {

struct config;
class async_mutex;
class blocking_pool;
namespace auth {
class token_store;
class failure_limiter;
} // namespace auth
namespace engine {
class child_reaper;
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

struct services {
    const config& cfg;
    auth::token_store& tokens;
    auth::failure_limiter& failures;
    engine::child_reaper& reaper;
    blocking_pool& pool;
    engine::manifest_store& manifest;
    logs::hub& logs;
    engine::supervisor* engine; // null without --engine
    engine::scripts& scripts;
    git::workspace* git;           // the workspace repository (docs/api.md §13)
    git::clone_cache* git_cache;   // null when clones are packed from scratch
    snapshots::service* snapshots; // docs/api.md §12
    // Awaited before work that takes git::workspace::lock() goes to the pool: waiting for the workspace
    // holds no pool thread.
    async_mutex& workspace_gate;
    std::string created_at; // ISO-8601, the first start of this agent's daemon (kept under STATE)
    std::atomic<int> execs_running{0};
};

} // namespace ag
