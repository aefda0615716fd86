#pragma once
// One proxied exchange (docs/api.md §10, §11): the client's request to a service on loopback and its answer
// back, streamed both ways with bounded buffers; or, after a 101, a byte tunnel (WebSocket). Our credentials
// never reach the service; hop-by-hop headers are not passed on (RFC 9110 §7.6.1).
#include "gateway/front_door.hpp"
#include "metrics/instruments.hpp"
#include "proxy/connection_pool.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace boost::asio {
class execution_context;
}

namespace ag::auth {
class token_store;
}

namespace ag::proxy {

struct upstream {
    boost::asio::ip::tcp::endpoint endpoint;
};

struct forward_options {
    std::chrono::seconds timeout{60}; // connect, first byte of the answer, and between reads
    // Whether a client on this machine is still announced with X-Forwarded-*. OpenClaw trusts loopback as
    // a proxy, so a forwarded address that is loopback too attributes the request to nobody and it refuses
    // it (403 proxy_attribution_required): for the engine a local client goes as what it is, a direct one.
    bool attribute_local_clients = true;
    metrics::gauge* tunnels_open = nullptr; // WebSocket tunnels open now (docs/api.md §16)
    // The service's own credentials (the engine's token, docs/api.md §10): when set, every Authorization
    // the client sent stays behind and this one goes instead.
    std::function<std::string()> authorization;
};

boost::asio::awaitable<pass_result> forward(pass_exchange& x, const upstream& to, connection_pool& pool,
                                            const auth::token_store& tokens, const forward_options& options);

} // namespace ag::proxy
