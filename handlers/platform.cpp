// POST /v0/platform/token, POST …/platform/token and GET /.well-known/jwks.json (docs/api.md §15): the
// gateway token exchanged for a one-hour ES256 JWT, and the public key that verifies it.
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "platform/signer.hpp"
#include "util/time_format.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace ag {
namespace {

using boost::asio::awaitable;

constexpr std::chrono::seconds token_lifetime{3600};

awaitable<response> post_token(const platform_routes& area, request&) {
    if (!area.key)
        throw api_error(error_kind::unavailable, "Platform tokens are not configured (no --platform-key)");
    auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    auto expires = now + token_lifetime;
    nlohmann::json claims{{"sub", area.cfg.agent_id},
                          {"iat", now.time_since_epoch().count()},
                          {"exp", expires.time_since_epoch().count()}};
    co_return json_response(
        {{"token", area.key->sign(claims)}, {"expiresAt", time_format::iso8601_ms(expires)}});
}

awaitable<response> get_jwks(const platform_routes& area, request&) {
    if (!area.key)
        throw api_error(error_kind::not_found, "No platform key is configured");
    response r = json_response({{"keys", nlohmann::json::array({area.key->public_jwk()})}});
    r.content_type = "application/jwk-set+json";
    r.headers.emplace_back("Cache-Control", "public, max-age=300");
    co_return r;
}

} // namespace

void platform_routes::add_to(router& r) const {
    const platform_routes& area = *this;
    auto token = [area](request& req) { return post_token(area, req); };
    r.add(method::post, "/v0/platform/token", token);
    r.add(method::post, "/v0/agents/{agentId}/platform/token", token);
    route_options open;
    open.access = route_access::open;
    r.add(
        method::get, "/.well-known/jwks.json", [area](request& req) { return get_jwks(area, req); }, open);
}

} // namespace ag
