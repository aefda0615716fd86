#pragma once
// Requests that are not for the API go to the agent's own services (docs/api.md §3 steps 2, 4 and 5). The
// HTTP core asks a front door where such a request goes, checks the token when the target is protected, and
// then hands the connection over. The front door (proxy/) knows the routes, domains and the engine; the core
// knows none of them.
#include "gateway/request.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace ag {

struct pass_exchange; // gateway/pass_exchange.hpp

struct pass_target {
    std::uint32_t upstream = 0; // the front door's own name for where it goes
    bool protect = true;        // the gateway token is needed (docs/api.md §4)
};

// What became of the client's connection once the front door is done with it.
enum class pass_outcome {
    keep_alive, // the response was sent whole and the connection may carry the next request
    close,      // the response was sent whole; close the connection in order
    reset,      // the response was cut short: reset, so the client cannot take it for complete
    taken,      // the connection was tunnelled (a WebSocket) and has ended
};

struct pass_result {
    pass_outcome outcome = pass_outcome::close;
    // Set when nothing was sent yet and the daemon answers itself (502 Upstream unavailable, 504): the
    // session writes it, with the outcome saying whether the connection may go on.
    std::optional<response> answer;
};

class front_door {
public:
    front_door() = default;
    front_door(const front_door&) = delete;
    front_door& operator=(const front_door&) = delete;
    virtual ~front_door() = default;
    // A registered domain (docs/api.md §11): every request with this Host goes to its service.
    virtual std::optional<pass_target> by_host(std::string_view host) const = 0;
    // A path that is not under /v0 (decoded, without the query): the engine's chat and Control UI, then the
    // longest matching path route.
    virtual std::optional<pass_target> by_path(std::string_view path, bool upgrade) const = 0;
    // Runs the exchange: the request to the service and its answer back, or the tunnel after an upgrade.
    virtual boost::asio::awaitable<pass_result> pass(pass_exchange& x) = 0;
};

} // namespace ag
