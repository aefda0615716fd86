// GET /v0/agents/{id}, POST …/restart, POST …/scripts/retry and GET …/platform/whoami (docs/api.md §6).
#include "handlers/routes.hpp"
#include "handlers/skills.hpp"

#include "engine/manifest.hpp"
#include "engine/scripts.hpp"
#include "engine/supervisor.hpp"
#include "gateway/blocking_pool.hpp"
#include "gateway/config.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"

#include <nlohmann/json.hpp>

namespace ag {
namespace {

nlohmann::json engine_of(const engine::manifest& m) {
    return m.engine ? nlohmann::json(*m.engine) : nullptr;
}

std::string name_of(const agent_routes& area, const engine::manifest& m) {
    return m.agent_name.value_or(area.cfg.agent_id);
}

boost::asio::awaitable<response> get_agent(const agent_routes& area, request&) {
    auto found = area.skills.cached();
    if (!found)
        found = co_await area.pool.call([&] { return area.skills.rescan(); });
    auto m = area.manifest.current();
    nlohmann::json skill_list = nlohmann::json::array();
    for (const auto& s : *found)
        skill_list.push_back({{"agentId", area.cfg.agent_id},
                              {"skillId", s.id},
                              {"name", s.name},
                              {"description", s.description ? nlohmann::json(*s.description) : nullptr},
                              {"path", "skills/" + s.id}});
    engine::supervisor::status engine_status;
    if (area.engine)
        engine_status = area.engine->current();
    std::string process_status(engine::state_name(engine_status.state));
    auto scripts = area.scripts.states();
    co_return json_response({
        {"agent",
         {{"agentId", area.cfg.agent_id},
          {"name", name_of(area, *m)},
          {"engine", engine_of(*m)},
          {"createdAt", area.created_at},
          {"status", process_status},
          {"lastSync", nullptr},
          {"snapshotCid", nullptr}}},
        {"processStatus", process_status},
        {"processId", engine_status.pid ? nlohmann::json(std::to_string(*engine_status.pid)) : nullptr},
        {"skills", std::move(skill_list)},
        {"secrets", nlohmann::json::array()},
        {"snapshots", nlohmann::json::array()},
        {"portForwarding", nlohmann::json::array()},
        {"scripts", {{"build", scripts.build}, {"start", scripts.start}}},
    });
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
    co_await area.pool.run([&] { area.manifest.reload(); });
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
