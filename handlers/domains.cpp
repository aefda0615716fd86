// …/domains (docs/api.md §11): subdomains and custom domains, their challenge and verification.
#include "handlers/routes.hpp"

#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "proxy/domains.hpp"
#include "runtime/blocking_pool.hpp"

#include <nlohmann/json.hpp>

namespace ag {
namespace {

using boost::asio::awaitable;

awaitable<response> list(const domain_routes& area, request&) {
    auto a = nlohmann::json::array();
    for (const auto& d : *area.domains.current())
        a.push_back(proxy::to_json(d));
    co_return json_response({{"domains", std::move(a)}});
}

// Each change writes STATE (and a verification asks DNS): on the pool.
awaitable<response> add(const domain_routes& area, request& req) {
    auto body = req.json_body();
    auto work = [&] { return area.domains.add(body); };
    auto d = co_await area.pool.call(work);
    co_return json_response({{"success", true}, {"domain", proxy::to_json(d)}});
}

awaitable<response> update(const domain_routes& area, request& req) {
    auto body = req.json_body();
    std::string id(req.param("domainId"));
    auto work = [&] { return area.domains.update(id, body); };
    auto d = co_await area.pool.call(work);
    co_return json_response({{"success", true}, {"domain", proxy::to_json(d)}});
}

awaitable<response> remove(const domain_routes& area, request& req) {
    std::string id(req.param("domainId"));
    auto work = [&] { area.domains.remove(id); };
    co_await area.pool.run(work);
    co_return json_response({{"success", true}, {"message", "Domain removed"}});
}

awaitable<response> challenge(const domain_routes& area, request& req) {
    auto body = req.json_body();
    auto work = [&] { return area.domains.challenge(body); };
    auto answer = co_await area.pool.call(work);
    co_return json_response(answer);
}

awaitable<response> verify(const domain_routes& area, request& req) {
    std::string id(req.param("domainId"));
    auto work = [&] { return area.domains.verify(id, proxy::system_txt_lookup); };
    auto d = co_await area.pool.call(work);
    co_return json_response({{"success", true}, {"domain", proxy::to_json(d)}});
}

} // namespace

void domain_routes::add_to(router& r) const {
    const domain_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}/domains", [area](request& req) { return list(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/domains", [area](request& req) { return add(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/domains/challenge",
          [area](request& req) { return challenge(area, req); });
    r.add(method::put, "/v0/agents/{agentId}/domains/{domainId}",
          [area](request& req) { return update(area, req); });
    r.add(method::delete_, "/v0/agents/{agentId}/domains/{domainId}",
          [area](request& req) { return remove(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/domains/{domainId}/verify",
          [area](request& req) { return verify(area, req); });
}

} // namespace ag
