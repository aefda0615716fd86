#pragma once
// Owns the I/O workers, listeners, blocking pool and long-lived subsystems; starts them in order and stops
// them in reverse. Not thread-safe except request_stop().
#include <memory>
#include <string>
#include <vector>

namespace ag {

struct config;
struct services;
class router;
namespace auth {
class token_store;
}

class server {
public:
    // Throws usage_error for a TLS certificate or key that does not load.
    server(const config& cfg, auth::token_store& tokens);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    router& routes();
    services& svc();

    // Binds every listener. Returns what was bound, e.g. "127.0.0.1:43121" or "unix:/run/x.sock" (port 0 is
    // resolved). Throws std::system_error.
    std::vector<std::string> bind();

    // Serves until SIGTERM/SIGINT or request_stop(); returns the exit code. Runs worker 0 on this thread.
    int run();

    // Begins a graceful stop (as SIGTERM does). Safe from any thread.
    void request_stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ag
