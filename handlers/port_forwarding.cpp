// GET and PUT …/port-forwarding (docs/api.md §11): the path routes, replaced as a whole.
#include "handlers/routes.hpp"

#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "proxy/path_routes.hpp"
#include "runtime/blocking_pool.hpp"

#include <nlohmann/json.hpp>

namespace ag {
namespace {

boost::asio::awaitable<response> list(const port_forwarding_routes& area, request&) {
    co_return json_response({{"mappings", proxy::to_json(*area.routes.current())}});
}

boost::asio::awaitable<response> replace(const port_forwarding_routes& area, request& req) {
    auto body = req.json_body();
    auto it = body.find("mappings");
    if (it == body.end())
        throw api_error(error_kind::bad_request, "mappings is required (null or [] for no routes)");
    auto routes = proxy::parse_routes(*it, area.routes.own_ports());
    auto shown = proxy::to_json(routes);
    // Stored (fsync, rename) before it is served: a crash leaves the old list or the new, never half.
    auto store = [&] { area.routes.replace(std::move(routes)); };
    co_await area.pool.run(store);
    co_return json_response({{"success", true}, {"mappings", std::move(shown)}});
}

} // namespace

void port_forwarding_routes::add_to(router& r) const {
    const port_forwarding_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}/port-forwarding",
          [area](request& req) { return list(area, req); });
    r.add(method::put, "/v0/agents/{agentId}/port-forwarding",
          [area](request& req) { return replace(area, req); });
}

} // namespace ag
