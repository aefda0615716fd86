#pragma once
// The composition root: builds every part of the daemon from its configuration, wires them together, adds
// their routes to the HTTP server and their lifecycles to its start/stop loop. Nothing else constructs a
// long-lived part; nothing below app/ knows the others exist.
#include <memory>
#include <string>
#include <vector>

namespace ag {
struct config;
class router;
namespace auth {
class token_store;
}
} // namespace ag

namespace ag::app {

class daemon {
public:
    // Prepares the workspace repository and loads what was kept under the state directory. Throws
    // usage_error for a workspace that cannot be used or a TLS key that does not load.
    daemon(const config& cfg, auth::token_store& tokens);
    ~daemon();
    daemon(const daemon&) = delete;
    daemon& operator=(const daemon&) = delete;

    std::vector<std::string> bind();
    int run();
    void request_stop();
    // Every route the daemon serves (besides /healthz, which dispatch answers first), as added at
    // construction; docs/openapi.json is checked against it.
    const router& routes() const;

private:
    struct parts;
    std::unique_ptr<parts> parts_;
};

} // namespace ag::app
