#pragma once
// This agent's front door (docs/api.md §3, §10, §11): the engine's chat and Control UI at --engine-url, and
// the path routes to local ports. Implements gateway/front_door.hpp for the HTTP core.
#include "gateway/front_door.hpp"
#include "metrics/instruments.hpp"
#include "proxy/forward.hpp"
#include "util/service.hpp"

#include <array>
#include <memory>
#include <optional>

namespace ag {
struct config;
}
namespace ag::auth {
class token_store;
}

namespace ag::proxy {

class path_routes;
class domains;

class agent_front_door final : public front_door, public service {
public:
    // Resolves --engine-url once and reads --engine-token-file (throws usage_error when either fails).
    agent_front_door(const config& cfg, path_routes& routes, domains& names, const auth::token_store& tokens);

    std::optional<pass_target> by_host(std::string_view host) const override;
    std::optional<pass_target> by_path(std::string_view path, bool upgrade) const override;
    boost::asio::awaitable<pass_result> pass(pass_exchange& x) override;

    std::string_view name() const noexcept override { return "front door"; }
    void start() override {}
    void stop() noexcept override { pool_.clear(); }
    // Re-reads --engine-token-file when it changed (the token file watch and SIGHUP call this).
    void reload_engine_token(bool force = false);

    // For the metrics (docs/api.md §16): WebSocket tunnels open now (apps and the engine's chat), and answers
    // the daemon gave for an upstream, by 502 or 504.
    const metrics::gauge& tunnels_open() const noexcept { return tunnels_open_; }
    const metrics::counter& upstream_errors(bool engine, unsigned status) const noexcept {
        return upstream_errors_[error_slot(engine, status)];
    }

private:
    static constexpr std::uint32_t engine_upstream = 0; // other upstream names are local ports
    metrics::gauge tunnels_open_;                       // before the options that point at it
    path_routes& routes_;
    domains& domains_;
    const auth::token_store& tokens_;
    std::unique_ptr<auth::token_store> engine_token_; // --engine-token-file; else the gateway token
    std::optional<upstream> engine_;
    forward_options options_;        // path routes and domains
    forward_options engine_options_; // the engine's chat and Control UI
    connection_pool pool_;
    static std::size_t error_slot(bool engine, unsigned status) noexcept {
        return (engine ? 2 : 0) + (status == 504 ? 1 : 0);
    }
    std::array<metrics::counter, 4> upstream_errors_; // app 502, app 504, engine 502, engine 504
};

} // namespace ag::proxy
