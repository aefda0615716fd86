// GET /metrics (loopback and unix connections without X-Forwarded-For) and GET …/metrics (docs/api.md §16):
// the Prometheus text exposition of what the daemon counted.
#include "handlers/routes.hpp"

#include "gateway/router.hpp"
#include "metrics/registry.hpp"

namespace ag {

void metrics_routes::add_to(router& r) const {
    const metrics::registry* reg = &registry;
    // A scrape waits for nothing and takes about half a millisecond with 20 routes used (bench/metrics), once
    // every few seconds: it stays on the I/O thread rather than paying two hops to the pool.
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
