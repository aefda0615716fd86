#include "proxy/agent_front_door.hpp"

#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/pass_exchange.hpp"
#include "proxy/domains.hpp"
#include "proxy/path_routes.hpp"
#include "runtime/net.hpp"
#include "upstream/client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/core.h>

namespace ag::proxy {
namespace {

upstream resolve_engine(const std::string& url) {
    auto ep = ag::upstream::endpoint::parse(url);
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    auto results = resolver.resolve(ep.host, ep.port, ec);
    if (ec || results.empty())
        throw usage_error(fmt::format("--engine-url '{}': {} does not resolve", url, ep.host));
    return upstream{results.begin()->endpoint()};
}

} // namespace

agent_front_door::agent_front_door(const config& cfg, path_routes& routes, domains& names,
                                   const auth::token_store& tokens)
    : routes_(routes)
    , domains_(names)
    , tokens_(tokens)
    , options_{std::chrono::seconds(cfg.upstream_timeout), true, &tunnels_open_}
    , engine_options_{std::chrono::seconds(cfg.upstream_timeout), false, &tunnels_open_} {
    if (cfg.engine_url)
        engine_ = resolve_engine(*cfg.engine_url);
    if (cfg.engine_token_file)
        try {
            engine_token_ =
                std::make_unique<auth::token_store>(auth::token_store::from_file(*cfg.engine_token_file));
        } catch (const std::exception& e) {
            throw usage_error(fmt::format("--engine-token-file '{}': {}", *cfg.engine_token_file, e.what()));
        }
    // docs/api.md §10: the engine gets its own credentials, never whatever the client sent.
    engine_options_.authorization = [this] {
        return "Bearer " + (engine_token_ ? engine_token_->current() : tokens_.current());
    };
}

void agent_front_door::reload_engine_token(bool force) {
    if (engine_token_)
        engine_token_->reload(force);
}

std::optional<pass_target> agent_front_door::by_host(std::string_view host) const {
    if (auto d = domains_.by_host(host))
        return pass_target{d->target_port, d->protect};
    return std::nullopt;
}

std::optional<pass_target> agent_front_door::by_path(std::string_view path, bool upgrade) const {
    // docs/api.md §10: the chat WebSocket and the Control UI are the engine's, and nobody else's.
    const bool chat = upgrade && (path == "/" || path == "/chat");
    const bool control_ui = path == "/config" || path.starts_with("/config/");
    if (chat || control_ui) {
        if (!engine_)
            return std::nullopt;
        return pass_target{engine_upstream, true};
    }
    auto list = routes_.current();
    if (const auto* r = longest_match(*list, path))
        return pass_target{r->port, r->protect || protected_in_any_reading(*list, path)};
    return std::nullopt;
}

asio::awaitable<pass_result> agent_front_door::pass(pass_exchange& x) {
    const bool engine = x.target.upstream == engine_upstream;
    pass_result result;
    if (engine) {
        result = co_await forward(x, *engine_, pool_, tokens_, engine_options_);
    } else {
        upstream to{
            tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<std::uint16_t>(x.target.upstream))};
        result = co_await forward(x, to, pool_, tokens_, options_);
    }
    if (result.answer && (result.answer->status == 502 || result.answer->status == 504))
        upstream_errors_[error_slot(engine, result.answer->status)].add();
    co_return result;
}

} // namespace ag::proxy
