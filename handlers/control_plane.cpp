// The routes of the seed's API that belong to the control plane, not to the agent's own daemon (docs/api.md
// §15): attaching secrets and skills, and the engine's versions and updates. Each answers 501, so a client
// learns where to go instead of getting a 404 that reads like a typo.
#include "handlers/routes.hpp"

#include "gateway/errors.hpp"
#include "gateway/router.hpp"

#include <array>
#include <utility>

namespace ag {
namespace {

boost::asio::awaitable<response> refuse(request&) {
    throw api_error(error_kind::not_implemented, "Managed by the control plane");
    co_return response{};
}

} // namespace

void control_plane_routes::add_to(router& r) const {
    static constexpr std::array<std::pair<method, const char*>, 9> managed{{
        {method::post, "/v0/agents/{agentId}/secrets"},
        {method::delete_, "/v0/agents/{agentId}/secrets/{secretId}"},
        {method::post, "/v0/agents/{agentId}/skills"},
        {method::delete_, "/v0/agents/{agentId}/skills/{skillId}"},
        {method::get, "/v0/agents/{agentId}/skills/updates"},
        {method::post, "/v0/agents/{agentId}/skills/{skillId}/update"},
        {method::get, "/v0/agents/{agentId}/available-agent-versions"},
        {method::get, "/v0/agents/{agentId}/update"},
        {method::post, "/v0/agents/{agentId}/update"},
    }};
    for (const auto& [verb, pattern] : managed)
        r.add(verb, pattern, refuse);
}

} // namespace ag
