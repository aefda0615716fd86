// GET /metrics (loopback connections only) and GET …/metrics (docs/api.md §16): the Prometheus text
// exposition of what the daemon counted.
#include "handlers/routes.hpp"

#include "gateway/router.hpp"
#include "metrics/registry.hpp"

namespace ag {

void metrics_routes::add_to(router& r) const {
    const metrics::registry* reg = &registry;
    // Serialising a scrape takes tens of microseconds and waits for nothing: it stays on the I/O thread.
    auto scrape = [reg](request&) -> boost::asio::awaitable<response> {
        response res;
        res.content_type = "text/plain; version=0.0.4; charset=utf-8";
        res.body = reg->scrape();
        res.headers.emplace_back("Cache-Control", "no-store");
        co_return res;
    };
    route_options local;
    local.access = route_access::loopback;
    r.add(method::get, "/metrics", scrape, local);
    r.add(method::get, "/v0/agents/{agentId}/metrics", scrape);
}

} // namespace ag
