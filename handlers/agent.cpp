// GET /v0/agents/{id} (CONTRACT §6) and GET …/platform/whoami (§15).
#include "handlers/routes.hpp"
#include "handlers/skills.hpp"

#include "engine/manifest.hpp"
#include "gateway/blocking_pool.hpp"
#include "gateway/config.hpp"
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
    // The engine supervisor arrives with the engine issue; until then nothing runs.
    const char* process_status = "not_running";
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
        {"processId", nullptr},
        {"skills", std::move(skill_list)},
        {"secrets", nlohmann::json::array()},
        {"snapshots", nlohmann::json::array()},
        {"portForwarding", nlohmann::json::array()},
        {"scripts", {{"build", "not_configured"}, {"start", "not_configured"}}},
    });
}

boost::asio::awaitable<response> get_whoami(services& svc, request&) {
    auto m = svc.manifest.current();
    co_return json_response(
        {{"agentId", svc.cfg.agent_id}, {"name", name_of(svc, *m)}, {"engine", engine_of(*m)}});
}

} // namespace

void register_agent_routes(router& r, services& svc) {
    r.add(method::get, "/v0/agents/{agentId}", [&svc](request& req) { return get_agent(svc, req); });
    r.add(method::get, "/v0/agents/{agentId}/platform/whoami",
          [&svc](request& req) { return get_whoami(svc, req); });
}

} // namespace ag
