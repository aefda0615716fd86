#pragma once
// What the HTTP core counts (docs/api.md §16), resolved once when metrics are enabled: each route carries
// its own route_stats, so a request costs a few relaxed atomic adds and no lookup.
#include "metrics/instruments.hpp"

namespace ag {

struct http_metrics {
    metrics::route_stats* health = nullptr;    // GET /healthz, answered before the routes
    metrics::route_stats* unmatched = nullptr; // answered before any route (401, 404, 405, …)
    metrics::route_stats* proxied = nullptr;   // taken by the front door
    metrics::counter* bytes_in = nullptr;      // request heads and declared bodies
    metrics::counter* bytes_out = nullptr;     // answers as written
    metrics::gauge* websockets = nullptr;      // the daemon's own WebSockets (logs), open now
};

} // namespace ag
