#pragma once
// One proxied exchange (docs/api.md §10, §11): the client's request to a service on loopback and its answer
// back, streamed both ways with bounded buffers; or, after a 101, a byte tunnel (WebSocket). Our credentials
// never reach the service; hop-by-hop headers are not passed on (RFC 9110 §7.6.1).
#include "gateway/front_door.hpp"
#include "metrics/instruments.hpp"

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

// Idle keep-alive connections to upstreams, per I/O thread's context. A connection idle for longer than
// `max_idle` is not reused (services close theirs after a few seconds: Node's default is 5 s).
class connection_pool {
public:
    connection_pool() = default;
    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;
    ~connection_pool();
    // A connection is handed out only when it has nothing to read: not closed by the service meanwhile, and
    // no stray bytes an earlier exchange left (they would be taken for the next request's answer).
    std::optional<boost::asio::ip::tcp::socket> take(boost::asio::execution_context* ctx,
                                                     const boost::asio::ip::tcp::endpoint& to);
    void give_back(boost::asio::execution_context* ctx, const boost::asio::ip::tcp::endpoint& to,
                   boost::asio::ip::tcp::socket s);
    // Closes every idle connection (at stop, before the I/O contexts go).
    void clear();

    static constexpr std::size_t max_idle_per_upstream = 32;
    static constexpr auto max_idle = std::chrono::seconds(4);

private:
    struct idle {
        boost::asio::ip::tcp::socket socket;
        std::chrono::steady_clock::time_point since;
    };
    using key = std::pair<boost::asio::execution_context*, boost::asio::ip::tcp::endpoint>;
    std::mutex mutex_;
    std::map<key, std::vector<idle>> idle_;
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

// What the service sees of the request's credentials (docs/api.md §4): the target without `token`
// parameters. Exposed for tests.
std::string target_without_token(std::string_view target);

} // namespace ag::proxy
