#include "gateway/server.hpp"

#include "auth/failure_limiter.hpp"
#include "config/daemon_config.hpp"
#include "gateway/connection_limiter.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/http_metrics.hpp"
#include "gateway/http_session.hpp"
#include "gateway/listener.hpp"
#include "gateway/router.hpp"
#include "gateway/tls_context.hpp"
#include "gateway/worker.hpp"
#include "metrics/registry.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "util/log.hpp"
#include "util/sd_notify.hpp"
#include "util/service.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>

#include <atomic>
#include <csignal>

namespace ag {
using namespace std::chrono_literals;

namespace {

constexpr auto drain_deadline = 10s;

std::vector<std::unique_ptr<worker>> make_workers(unsigned n) {
    std::vector<std::unique_ptr<worker>> v;
    for (unsigned i = 0; i < n; ++i) {
        v.push_back(std::make_unique<worker>());
        v.back()->index = i;
    }
    return v;
}

// Closes connections whose deadline passed (header, idle and I/O timeouts), once a second per worker.
void arm_sweeper(worker& w) {
    w.sweeper.expires_after(1s);
    w.sweeper.async_wait([&w](const boost::system::error_code& ec) {
        if (ec)
            return;
        auto now = std::chrono::steady_clock::now();
        for (auto* c : w.connections)
            if (c->deadline <= now && c->cancel)
                c->cancel(); // completions are posted, so the set does not change under us
        arm_sweeper(w);
    });
}

} // namespace

struct server::impl {
    impl(const config& c, auth::token_store& t)
        : cfg(c)
        , front{c, t, failures}
        , pool(2, 16)
        , workers(make_workers(c.threads))
        , tls(make_tls_context(c))
        // Caught from construction on: "listening on" is printed before run(), and a SIGTERM sent as soon as
        // it appears must not meet the default action (it waits until run() arms the handler).
        , signals(workers[0]->ioc, SIGTERM, SIGINT, SIGHUP)
        , drain_timer(workers[0]->ioc) {
        for (auto& w : workers)
            envs.push_back(
                std::make_unique<session_env>(session_env{routes, front, *w, tls.get(), &limiter}));
    }

    const config& cfg;
    auth::failure_limiter failures;
    gate front;
    blocking_pool pool;
    std::vector<std::unique_ptr<worker>> workers;
    std::unique_ptr<asio::ssl::context> tls;
    router routes;
    connection_limiter limiter{cfg.max_connections_per_client, cfg.trusted_proxies};
    std::vector<std::unique_ptr<session_env>> envs;
    listeners listening;
    std::vector<service*> services;
    std::vector<std::function<void()>> reload_hooks;
    http_metrics counted;

    asio::signal_set signals;
    asio::steady_timer drain_timer;
    std::atomic<bool> stopping{false};
    std::size_t running = 0;     // services[0, running) are started and not yet stopped (worker 0 only)
    bool stop_requested = false; // stop() was called on services[running - 1]
    bool drained = false;        // connections are done, or the drain deadline passed
    std::chrono::steady_clock::time_point drain_until;

    void arm_signals() {
        signals.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec)
                return;
            if (sig == SIGHUP) {
                log::info("SIGHUP: reloading");
                for (auto& fn : reload_hooks)
                    fn();
            } else {
                begin_stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
            }
            arm_signals();
        });
    }

    void begin_stop(const char* why) {
        if (stopping.exchange(true)) {
            log::warn("{} again: stopping now", why);
            for (auto& w : workers)
                w->ioc.stop();
            return;
        }
        log::info("{}: stopping (in-flight requests get up to {}s)", why, drain_deadline.count());
        for (std::size_t i = 0; i < workers.size(); ++i) {
            asio::post(workers[i]->ioc, [this, i] {
                listening.close(i);
                worker& w = *workers[i];
                w.stopping = true;
                // Cancelling may erase from the set; iterate over a copy.
                std::vector<connection_handle*> idle;
                for (auto* c : w.connections)
                    if (c->idle && c->cancel)
                        idle.push_back(c);
                for (auto* c : idle)
                    c->cancel();
            });
        }
        drain_until = std::chrono::steady_clock::now() + drain_deadline;
        asio::post(workers[0]->ioc, [this] { wait_drained(); });
    }

    // docs/api.md §2: in-flight requests finish first (up to drain_deadline) with every service still
    // running; then the services stop one by one from the last started; then the loop ends.
    void wait_drained() {
        if (!drained) {
            std::size_t open = 0;
            for (auto& w : workers)
                open += w->connection_count.load();
            drained = open == 0 || std::chrono::steady_clock::now() >= drain_until;
            if (drained && open)
                log::warn("{} connection(s) still busy after {}s; closing them", open,
                          drain_deadline.count());
        }
        while (drained && running > 0) {
            service& s = *services[running - 1];
            if (!stop_requested) {
                log::debug("stopping {}", s.name());
                s.stop();
                stop_requested = true;
            }
            if (!s.stopped())
                break;
            --running;
            stop_requested = false;
        }
        if (drained && running == 0) {
            finish();
            return;
        }
        drain_timer.expires_after(20ms);
        drain_timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec)
                wait_drained();
        });
    }

    void finish() {
        boost::system::error_code ec;
        for (auto& w : workers)
            asio::post(w->ioc, [&w] { w->sweeper.cancel(); });
        signals.cancel(ec);
        for (auto& w : workers)
            w->ioc.stop();
    }

    // A start that throws stops what already started, in reverse, before the error goes up.
    void start_services() {
        for (; running < services.size(); ++running) {
            try {
                services[running]->start();
            } catch (...) {
                while (running > 0)
                    services[--running]->stop();
                throw;
            }
        }
    }
};

server::server(const config& cfg, auth::token_store& tokens)
    : impl_(std::make_unique<impl>(cfg, tokens)) {}
server::~server() = default;

void server::enable_metrics(metrics::registry& r) {
    auto& m = impl_->counted;
    for (auto& rt : impl_->routes.all())
        rt.stats =
            &r.add_route(rt.ws_handler ? "WEBSOCKET" : std::string(method_name(rt.verb)), rt.pattern());
    m.health = &r.add_route("GET", "/healthz");
    m.unmatched = &r.add_route("ANY", "unmatched");
    m.proxied = &r.add_route("ANY", "front door");
    m.bytes_in = &r.add_counter("agent_gateway_http_received_bytes_total", "Bytes of requests received");
    m.bytes_out = &r.add_counter("agent_gateway_http_sent_bytes_total", "Bytes of answers sent");
    m.websockets = &r.add_gauge("agent_gateway_websockets_open", "The daemon's own WebSockets open now");
    r.add_gauge_fn("agent_gateway_connections_open", "Client connections open now", {}, [this] {
        std::size_t n = 0;
        for (const auto& w : impl_->workers)
            n += w->connection_count.load(std::memory_order_relaxed);
        return static_cast<double>(n);
    });
    for (auto& env : impl_->envs)
        env->metrics = &m;
}

router& server::routes() {
    return impl_->routes;
}
void server::set_front_door(front_door& door) {
    impl_->front.door = &door;
}

const gate& server::front() const {
    return impl_->front;
}
blocking_pool& server::pool() {
    return impl_->pool;
}
asio::io_context& server::main_context() {
    return impl_->workers[0]->ioc;
}
void server::add_service(service& s) {
    impl_->services.push_back(&s);
}
void server::on_reload(std::function<void()> fn) {
    impl_->reload_hooks.push_back(std::move(fn));
}

std::vector<std::string> server::bind() {
    return impl_->listening.bind(impl_->cfg.listen, impl_->workers);
}

int server::run() {
    auto& m = *impl_;
    m.arm_signals();
    m.start_services();
    for (auto& w : m.workers)
        arm_sweeper(*w);
    m.listening.accept(m.envs);

    notify_ready();
    for (std::size_t i = 1; i < m.workers.size(); ++i)
        m.workers[i]->thread = std::thread([w = m.workers[i].get()] { w->ioc.run(); });
    m.workers[0]->ioc.run();
    for (std::size_t i = 1; i < m.workers.size(); ++i) {
        m.workers[i]->ioc.stop();
        if (m.workers[i]->thread.joinable())
            m.workers[i]->thread.join();
    }
    // A second SIGTERM stops the loop before every service has stopped: they still get stop().
    while (m.running > 0)
        m.services[--m.running]->stop();
    m.pool.stop();
    // Only this thread is left. A second SIGTERM now would meet the default action once the signal_set is
    // gone (exit 143 instead of 0): keep such signals pending until the process ends.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int sig : {SIGTERM, SIGINT, SIGHUP})
        sigaddset(&stop_signals, sig);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    log::info("stopped");
    return 0;
}

void server::request_stop() {
    asio::post(impl_->workers[0]->ioc, [this] { impl_->begin_stop("stop requested"); });
}

} // namespace ag
