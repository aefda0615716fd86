// GET /v0/agents/{id}, POST …/restart, POST …/scripts/retry and GET …/platform/whoami (docs/api.md §6).
#include "handlers/routes.hpp"
#include "handlers/skills.hpp"

#include "config/daemon_config.hpp"
#include "engine/manifest.hpp"
#include "engine/scripts.hpp"
#include "engine/supervisor.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "proxy/path_routes.hpp"
#include "runtime/blocking_pool.hpp"
#include "tasks/scheduler.hpp"

#include <nlohmann/json.hpp>

#include <mutex>
#include <optional>

namespace ag {

// What the agent detail is made of; the body is built again only when one of these changed.
struct detail_inputs {
    skills::catalog::list skills;
    std::shared_ptr<const engine::manifest> manifest;
    engine::run_state state = engine::run_state::not_running;
    std::optional<pid_t> pid;
    engine::script_states scripts;
    std::shared_ptr<const proxy::route_list> routes;
    std::uint64_t tasks_version = 0;
    bool operator==(const detail_inputs& o) const {
        return skills == o.skills && manifest == o.manifest && state == o.state && pid == o.pid &&
               scripts.build == o.scripts.build && scripts.start == o.scripts.start && routes == o.routes &&
               tasks_version == o.tasks_version;
    }
};

struct agent_detail_cache {
    std::mutex mutex;
    std::optional<detail_inputs> inputs; // what `body` was made of
    std::string body;
};

std::shared_ptr<agent_detail_cache> agent_routes::make_detail_cache() {
    return std::make_shared<agent_detail_cache>();
}

namespace {

nlohmann::json engine_of(const engine::manifest& m) {
    return m.engine ? nlohmann::json(*m.engine) : nullptr;
}

std::string name_of(const agent_routes& area, const engine::manifest& m) {
    return m.agent_name.value_or(area.cfg.agent_id);
}

std::string detail_body(const agent_routes& area, const detail_inputs& in) {
    const auto& m = in.manifest;
    nlohmann::json skill_list = nlohmann::json::array();
    for (const auto& s : *in.skills)
        skill_list.push_back({{"agentId", area.cfg.agent_id},
                              {"skillId", s.id},
                              {"name", s.name},
                              {"description", s.description ? nlohmann::json(*s.description) : nullptr},
                              {"path", "skills/" + s.id}});
    std::string process_status(engine::state_name(in.state));
    const auto& scripts = in.scripts;
    return nlohmann::json(
               {
                   {"agent",
                    {{"agentId", area.cfg.agent_id},
                     {"name", name_of(area, *m)},
                     {"engine", engine_of(*m)},
                     {"createdAt", area.created_at},
                     {"status", process_status},
                     {"lastSync", nullptr},
                     {"snapshotCid", nullptr}}},
                   {"processStatus", process_status},
                   {"processId", in.pid ? nlohmann::json(std::to_string(*in.pid)) : nullptr},
                   {"skills", std::move(skill_list)},
                   {"secrets", nlohmann::json::array()},
                   {"snapshots", nlohmann::json::array()},
                   {"portForwarding", in.routes ? proxy::to_json(*in.routes) : nlohmann::json::array()},
                   {"scripts", {{"build", scripts.build}, {"start", scripts.start}}},
                   {"tasks", area.tasks ? area.tasks->summary() : nlohmann::json(nullptr)},
               })
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

boost::asio::awaitable<response> get_agent(const agent_routes& area, request&) {
    detail_inputs in;
    in.skills = area.skills.cached();
    if (!in.skills) {
        auto rescan = [&] { return area.skills.rescan(); };
        in.skills = co_await area.pool.call(rescan);
    }
    in.manifest = area.manifest.current();
    if (area.engine) {
        auto st = area.engine->current();
        in.state = st.state;
        in.pid = st.pid;
    }
    in.scripts = area.scripts.states();
    if (area.routes)
        in.routes = area.routes->current();
    if (area.tasks)
        in.tasks_version = area.tasks->version();
    // Dashboards poll this every few seconds and it rarely changes: the body is kept with its inputs.
    response res;
    auto& cache = *area.detail;
    {
        std::lock_guard lock(cache.mutex);
        if (cache.inputs && *cache.inputs == in) {
            res.body = cache.body;
            co_return res;
        }
    }
    res.body = detail_body(area, in);
    std::lock_guard lock(cache.mutex);
    cache.inputs = std::move(in);
    cache.body = res.body;
    co_return res;
}

boost::asio::awaitable<response> restart_engine(const agent_routes& area, request&) {
    if (!area.engine)
        throw api_error(error_kind::conflict, "No engine configured (start the daemon with --engine)");
    auto previous = co_await area.engine->restart();
    co_return json_response(
        {{"success", true},
         {"message", "Engine restarted"},
         {"previousProcessId", previous ? nlohmann::json(std::to_string(*previous)) : nullptr}});
}

boost::asio::awaitable<response> retry_scripts(const agent_routes& area, request&) {
    // The manifest may have changed since start (an edit, a reset): read it again first.
    auto reload = [&] { area.manifest.reload(); };
    co_await area.pool.run(reload);
    if (!area.scripts.configured())
        throw api_error(error_kind::conflict, "No scripts configured in the manifest");
    area.scripts.rebuild();
    co_return json_response({{"success", true}, {"message", "Scripts restarted: build, then start"}});
}

boost::asio::awaitable<response> get_whoami(const agent_routes& area, request&) {
    auto m = area.manifest.current();
    co_return json_response(
        {{"agentId", area.cfg.agent_id}, {"name", name_of(area, *m)}, {"engine", engine_of(*m)}});
}

} // namespace

void agent_routes::add_to(router& r) const {
    const agent_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}", [area](request& req) { return get_agent(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/restart",
          [area](request& req) { return restart_engine(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/scripts/retry",
          [area](request& req) { return retry_scripts(area, req); });
    r.add(method::get, "/v0/agents/{agentId}/platform/whoami",
          [area](request& req) { return get_whoami(area, req); });
}

} // namespace ag
