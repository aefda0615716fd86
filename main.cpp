// agent-gateway: one agent's HTTP API. See README.md and docs/api.md §1-§2 for the command line.
#include "app/daemon.hpp"
#include "app/state_lock.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "util/log.hpp"

#include "build_info.hpp" // generated: cmake/build_info.cmake

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

extern char** environ;

namespace {

std::string url_for(const std::string& bound, bool tls) {
    if (bound.starts_with("unix:"))
        return bound;
    std::string host = bound;
    // 0.0.0.0 and [::] are not addresses a browser can open; point at loopback instead.
    if (host.starts_with("0.0.0.0:"))
        host = "127.0.0.1" + host.substr(7);
    else if (host.starts_with("[::]:"))
        host = "[::1]" + host.substr(4);
    return std::string(tls ? "https://" : "http://") + host;
}

} // namespace

int main(int argc, char** argv) {
    // Writes to closed sockets and pipes are errors to handle, not a reason to die.
    std::signal(SIGPIPE, SIG_IGN);

    ag::parsed_command_line parsed;
    try {
        parsed = ag::parse_command_line(argc, argv, environ);
    } catch (const ag::usage_error& e) {
        std::fprintf(stderr, "agent-gateway: %s\n", e.what());
        return 2;
    }
    if (parsed.what == ag::parsed_command_line::action::help) {
        std::cout << ag::help_text();
        return 0;
    }
    if (parsed.what == ag::parsed_command_line::action::version) {
        std::cout << "agent-gateway " << AGENT_GATEWAY_BUILD_VERSION << " (commit "
                  << AGENT_GATEWAY_BUILD_COMMIT << ")\n";
        return 0;
    }
    const ag::config& cfg = parsed.cfg;
    ag::log::init(*ag::log::parse_level(cfg.log_level), cfg.log_format == "json");

    // Before anything in STATE is read or written: one daemon per state directory.
    std::optional<ag::app::state_lock> lock;
    try {
        lock.emplace(cfg.state_dir);
    } catch (const std::exception& e) {
        ag::log::error("fatal: {}", e.what());
        return 1;
    }

    std::optional<ag::auth::token_store> tokens;
    bool generated = false;
    try {
        if (cfg.token)
            tokens.emplace(ag::auth::token_store::fixed(*cfg.token));
        else if (cfg.token_file)
            tokens.emplace(ag::auth::token_store::from_file(*cfg.token_file));
        else
            tokens.emplace(ag::auth::token_store::generated(cfg.state_dir, generated));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "agent-gateway: %s\n", e.what());
        return 2;
    }

    try {
        ag::app::daemon srv(cfg, *tokens);

        auto bound = srv.bind();
        for (const auto& b : bound)
            ag::log::info("listening on {}", url_for(b, cfg.tls_cert.has_value()));
        ag::log::info("agent {} (root {}, workspace {}, state {})", cfg.agent_id, cfg.root, cfg.workspace,
                      cfg.state_dir);
        // The one place the token is shown: stdout, once, for the person who started us. Never in the log.
        std::string base = url_for(bound.front(), cfg.tls_cert.has_value()) + "/v0/agents/" + cfg.agent_id;
        if (!bound.front().starts_with("unix:")) {
            if (!cfg.token && !cfg.token_file)
                std::cout << "agent-gateway: open " << base << "/ui/?token=" << tokens->current()
                          << (generated ? "  (new token in " : "  (token in ") << cfg.state_dir
                          << "/gateway-token)" << std::endl;
            else
                std::cout << "agent-gateway: serving " << base << std::endl;
        }
        return srv.run();
    } catch (const ag::usage_error& e) {
        std::fprintf(stderr, "agent-gateway: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        ag::log::error("fatal: {}", e.what());
        return 1;
    }
}
