#pragma once
// The HTTP server: I/O workers, listeners, the blocking pool, the deadline sweep, signals and the graceful
// stop. It knows no API area: the composition root (app/daemon.cpp) adds routes and services to it.
// Not thread-safe except request_stop().
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ag {

struct config;
struct gate;
class blocking_pool;
class front_door;
class router;
class service;
namespace auth {
class token_store;
}
namespace metrics {
class registry;
}

class server {
public:
    // Throws usage_error for a TLS certificate or key that does not load.
    server(const config& cfg, auth::token_store& tokens);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    router& routes();
    // Where requests outside /v0 go (docs/api.md §3); without one they get 404. Before bind().
    void set_front_door(front_door& door);
    const gate& front() const;
    blocking_pool& pool();
    // Worker 0's context: where services run their timers and children.
    boost::asio::io_context& main_context();

    // Started by run() in the order added, before the first connection is accepted; at a stop, stopped in
    // reverse, each once the one added after it has stopped.
    void add_service(service& s);
    // Counts requests per route, bytes and WebSockets into `r` (docs/api.md §16), open connections too.
    // After every route is added, before bind().
    void enable_metrics(metrics::registry& r);

    // SIGHUP: each runs on the main thread.
    void on_reload(std::function<void()> fn);

    // Binds every listener. Returns what was bound, e.g. "127.0.0.1:43121" or "unix:/run/x.sock" (port 0 is
    // resolved). Throws std::system_error.
    std::vector<std::string> bind();

    // Starts the services and serves until SIGTERM/SIGINT or request_stop(); returns the exit code. Runs
    // worker 0 on this thread. Throws what a service's start() throws.
    int run();

    // Begins a graceful stop (as SIGTERM does). Safe from any thread.
    void request_stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ag
