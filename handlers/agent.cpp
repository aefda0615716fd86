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
#include "gateway/services.hpp"

#include <nlohmann/json.hpp>

namespace ag {
namespace {

nlohmann::json engine_of(const engine::manifest& m) {
    return m.engine ? nlohmann::json(*m.engine) : nullptr;
}

std::string name_of(const services& svc, const engine::manifest& m) {
    return m.agent_name.value_or(svc.cfg.agent_id);
}

boost::asio::awaitable<response> get_agent(services& svc, request&) {
    auto found = co_await svc.pool.call([&] { return skills::scan(svc.cfg.workspace); });
    auto m = svc.manifest.current();
    nlohmann::json skill_list = nlohmann::json::array();
    for (auto& s : found)
        skill_list.push_back({{"agentId", svc.cfg.agent_id},
                              {"skillId", s.id},
                              {"name", s.name},
                              {"description", s.description ? nlohmann::json(*s.description) : nullptr},
                              {"path", "skills/" + s.id}});
    engine::supervisor::status engine_status;
    if (svc.engine)
        engine_status = svc.engine->current();
    std::string process_status(engine::state_name(engine_status.state));
    auto scripts = svc.scripts.states();
    co_return json_response({
        {"agent",
         {{"agentId", svc.cfg.agent_id},
          {"name", name_of(svc, *m)},
          {"engine", engine_of(*m)},
          {"createdAt", svc.created_at},
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

boost::asio::awaitable<response> restart_engine(services& svc, request&) {
    if (!svc.engine)
        throw api_error(error_kind::conflict, "No engine configured (start the daemon with --engine)");
    auto previous = co_await svc.engine->restart();
    co_return json_response(
        {{"success", true},
         {"message", "Engine restarted"},
         {"previousProcessId", previous ? nlohmann::json(std::to_string(*previous)) : nullptr}});
}

boost::asio::awaitable<response> retry_scripts(services& svc, request&) {
    // The manifest may have changed since start (an edit, a reset): read it again first.
    co_await svc.pool.run([&] { svc.manifest.reload(); });
    if (!svc.scripts.configured())
        throw api_error(error_kind::conflict, "No scripts configured in the manifest");
    svc.scripts.rebuild();
    co_return json_response({{"success", true}, {"message", "Scripts restarted: build, then start"}});
}

boost::asio::awaitable<response> get_whoami(services& svc, request&) {
    auto m = svc.manifest.current();
    co_return json_response(
        {{"agentId", svc.cfg.agent_id}, {"name", name_of(svc, *m)}, {"engine", engine_of(*m)}});
}

} // namespace

void register_agent_routes(router& r, services& svc) {
    r.add(method::get, "/v0/agents/{agentId}", [&svc](request& req) { return get_agent(svc, req); });
    r.add(method::post, "/v0/agents/{agentId}/restart",
          [&svc](request& req) { return restart_engine(svc, req); });
    r.add(method::post, "/v0/agents/{agentId}/scripts/retry",
          [&svc](request& req) { return retry_scripts(svc, req); });
    r.add(method::get, "/v0/agents/{agentId}/platform/whoami",
          [&svc](request& req) { return get_whoami(svc, req); });
}

} // namespace ag
