#include "gateway/server.hpp"

#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "engine/child_reaper.hpp"
#include "engine/manifest.hpp"
#include "engine/scripts.hpp"
#include "engine/supervisor.hpp"
#include "gateway/async_mutex.hpp"
#include "gateway/blocking_pool.hpp"
#include "gateway/config.hpp"
#include "gateway/connection_limiter.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/http_session.hpp"
#include "gateway/router.hpp"
#include "gateway/services.hpp"
#include "gateway/thread_stream.hpp"
#include "gateway/worker.hpp"
#include "git/clone_cache.hpp"
#include "git/workspace.hpp"
#include "logs/file_follower.hpp"
#include "logs/hub.hpp"
#include "logs/journal.hpp"
#include "snapshots/service.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>

namespace ag {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto drain_deadline = 10s;

// The first start of this agent's daemon, kept under STATE so the agent's createdAt is stable.
std::string load_created_at(const std::string& state_dir) {
    std::string path = state_dir + "/agent.json";
    std::ifstream in(path);
    if (in) {
        try {
            auto j = nlohmann::json::parse(in);
            if (j.contains("createdAt") && j["createdAt"].is_string())
                return j["createdAt"].get<std::string>();
        } catch (const std::exception&) {
        }
    }
    std::string now = time_format::iso8601_ms_now();
    try {
        fs_util::write_file_atomic(path, nlohmann::json{{"createdAt", now}}.dump() + "\n", 0600);
    } catch (const std::exception& e) {
        log::warn("cannot record createdAt in {}: {}", path, e.what());
    }
    return now;
}

// systemd Type=notify readiness, without libsystemd.
void notify_ready() {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return;
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string p = path;
    if (p.size() >= sizeof addr.sun_path) {
        ::close(fd);
        return;
    }
    std::memcpy(addr.sun_path, p.data(), p.size());
    if (p[0] == '@')
        addr.sun_path[0] = '\0';
    static constexpr char msg[] = "READY=1";
    ::sendto(fd, msg, sizeof msg - 1, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size()));
    ::close(fd);
}

// Asio opens and accepts sockets without SOCK_CLOEXEC. Spawning closes every descriptor above 2 anyway; this
// keeps the rule "everything the daemon opens is close-on-exec" true for any exec a library might make.
void close_on_exec(int fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

log::once_a_second accept_failures;

// The daemon's own log lines (not the access log) become entries with source "agent-gateway".
void tap_to_hub(void* context, log::level lvl, std::string_view message) {
    logs::level l = logs::level::info;
    switch (lvl) {
    case log::level::trace:
        l = logs::level::trace;
        break;
    case log::level::debug:
        l = logs::level::debug;
        break;
    case log::level::info:
    case log::level::off:
        l = logs::level::info;
        break;
    case log::level::warn:
        l = logs::level::warn;
        break;
    case log::level::error:
        l = logs::level::error;
        break;
    }
    static_cast<logs::hub*>(context)->publish(l, "agent-gateway", message);
}

std::unique_ptr<engine::supervisor> make_engine(const config& cfg, asio::io_context& ioc,
                                                engine::child_reaper& reaper, logs::hub& hub) {
    if (!cfg.engine)
        return nullptr;
    return std::make_unique<engine::supervisor>(
        ioc, reaper, hub,
        engine::process_spec{"engine", *cfg.engine, cfg.root,
                             engine::environment_with({{"AGENT_ID", cfg.agent_id}}), "engine"});
}

} // namespace

struct server::impl {
    impl(const config& c, auth::token_store& t)
        : cfg(c)
        , tokens(t)
        , pool(2)
        , workers(make_workers(c.threads))
        , reaper(workers[0]->ioc)
        , manifest(c.manifest)
        , journal(c.state_dir + "/logs")
        , hub(journal)
        , engine_proc(make_engine(c, workers[0]->ioc, reaper, hub))
        , scripts(workers[0]->ioc, reaper, hub, manifest,
                  {c.root, engine::environment_with({{"AGENT_ID", c.agent_id}})})
        , git_ws(c.workspace)
        , git_cache(std::make_unique<git::clone_cache>(c.state_dir + "/git-pack", git_ws))
        , snapshots(git_ws, c.state_dir, c.cid_version, c.ipfs_api)
        , svc{cfg,
              tokens,
              failures,
              reaper,
              pool,
              manifest,
              hub,
              engine_proc.get(),
              scripts,
              &git_ws,
              git_cache.get(),
              &snapshots,
              workspace_gate,
              load_created_at(c.state_dir)}
        // Caught from construction on: "listening on" is printed before run(), and a SIGTERM sent as soon as
        // it appears must not meet the default action (it waits until run() arms the handler).
        , signals(workers[0]->ioc, SIGTERM, SIGINT, SIGHUP)
        , token_timer(workers[0]->ioc)
        , drain_timer(workers[0]->ioc) {
        if (cfg.tls_cert) {
            tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
            tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
            boost::system::error_code ec;
            tls->use_certificate_chain_file(*cfg.tls_cert, ec);
            if (ec)
                throw usage_error("--tls-cert: cannot load '" + *cfg.tls_cert + "': " + ec.message());
            tls->use_private_key_file(*cfg.tls_key, asio::ssl::context::pem, ec);
            if (ec)
                throw usage_error("--tls-key: cannot load '" + *cfg.tls_key + "': " + ec.message());
        }
        for (auto& w : workers)
            envs.push_back(
                std::make_unique<session_env>(session_env{routes, front, *w, tls.get(), &limiter}));
        // Before anything serves or builds: the workspace must be a repository (docs/api.md §13).
        try {
            git_ws.prepare();
            git_cache->load();
            snapshots.load();
        } catch (const git::error& e) {
            throw usage_error(fmt::format("--workspace '{}': {}", c.workspace, e.what()));
        }
        git_cache->rebuild_in_background();
        if (!cfg.engine_log.empty())
            follower = std::make_unique<logs::file_follower>(hub, cfg.engine_log);
        log::set_tap(&tap_to_hub, &hub);
    }
    ~impl() { log::set_tap(nullptr, nullptr); }

    static std::vector<std::unique_ptr<worker>> make_workers(unsigned n) {
        std::vector<std::unique_ptr<worker>> v;
        for (unsigned i = 0; i < n; ++i) {
            v.push_back(std::make_unique<worker>());
            v.back()->index = i;
        }
        return v;
    }

    const config& cfg;
    auth::token_store& tokens;
    auth::failure_limiter failures;
    blocking_pool pool;
    std::vector<std::unique_ptr<worker>> workers;
    engine::child_reaper reaper;
    engine::manifest_store manifest;
    logs::journal journal;
    logs::hub hub;
    std::unique_ptr<engine::supervisor> engine_proc;
    engine::scripts scripts;
    std::unique_ptr<logs::file_follower> follower;
    git::workspace git_ws;
    std::unique_ptr<git::clone_cache> git_cache;
    snapshots::service snapshots;
    async_mutex workspace_gate;
    services svc;
    gate front{cfg, tokens, failures};
    router routes;
    std::unique_ptr<asio::ssl::context> tls;
    connection_limiter limiter{cfg.max_connections_per_client, cfg.trusted_proxies};
    std::vector<std::unique_ptr<session_env>> envs;

    // Acceptors by worker; unix sockets live on worker 0.
    std::vector<std::vector<std::unique_ptr<asio::ip::tcp::acceptor>>> tcp_acceptors;
    std::vector<std::unique_ptr<asio::local::stream_protocol::acceptor>> unix_acceptors;
    std::vector<std::string> unix_paths;

    asio::signal_set signals;
    asio::steady_timer token_timer;
    asio::steady_timer drain_timer;
    std::atomic<bool> stopping{false};
    bool children_stopped = false; // worker 0 only
    std::chrono::steady_clock::time_point drain_until;

    // Engine log files are polled twice a second on the blocking pool (file reads never block an I/O thread).
    asio::awaitable<void> follow_engine_logs() {
        asio::steady_timer t(workers[0]->ioc);
        while (!stopping) {
            t.expires_after(500ms);
            auto [ec] = co_await t.async_wait(use_tuple);
            if (ec || stopping)
                break;
            co_await pool.run([this] { follower->tick(); });
        }
    }

    // docs/api.md §12: a snapshot every --snapshot-interval seconds when the workspace changed (a clean
    // workspace costs one pass of stat calls).
    asio::awaitable<void> take_snapshots() {
        asio::steady_timer t(workers[0]->ioc);
        while (!stopping) {
            t.expires_after(std::chrono::seconds(cfg.snapshot_interval));
            auto [ec] = co_await t.async_wait(use_tuple);
            if (ec || stopping)
                break;
            try {
                auto gate = co_await workspace_gate.lock();
                co_await pool.run([this] { snapshots.sync("Automatic snapshot"); });
            } catch (const std::exception& e) {
                log::warn("automatic snapshot failed: {}", e.what());
            }
        }
    }

    // The engine and the scripts stop with the daemon: SIGTERM, SIGKILL 10 s later.
    asio::awaitable<void> stop_children() {
        if (engine_proc)
            co_await engine_proc->stop();
        co_await scripts.stop();
        children_stopped = true;
    }

    void arm_signals() {
        signals.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec)
                return;
            if (sig == SIGHUP) {
                log::info("SIGHUP: re-reading the token file and the manifest");
                tokens.reload(true);
                manifest.reload();
            } else {
                begin_stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
            }
            arm_signals();
        });
    }

    void arm_token_watch() {
        if (!tokens.file())
            return;
        token_timer.expires_after(500ms);
        token_timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec)
                return;
            tokens.reload();
            arm_token_watch();
        });
    }

    template <class Acceptor> static asio::awaitable<void> run_accept(Acceptor& acc, session_env& env) {
        asio::steady_timer backoff(acc.get_executor());
        // One descriptor held back: when the table is full, it is given up to accept the waiting connection
        // and close it at once, so clients are refused instead of hanging in the backlog, and accepting
        // resumes by itself as soon as descriptors are free.
        int reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (;;) {
            auto [ec, sock] = co_await acc.async_accept(use_tuple);
            if (!acc.is_open() || ec.value() == ECANCELED)
                break;
            if (ec) {
                log::warn_rarely(accept_failures, "accept failed: {}", ec.message());
                // accept(2)'s own errno values (comparing with asio's enumerators trips UBSan's vptr check on
                // the category object of the separately compiled Asio).
                const bool out_of_fds = ec.value() == EMFILE || ec.value() == ENFILE ||
                                        ec.value() == ENOBUFS || ec.value() == ENOMEM;
                if (out_of_fds && reserve >= 0) {
                    ::close(reserve);
                    int fd = ::accept4(acc.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
                    if (fd >= 0)
                        ::close(fd);
                    reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
                    continue;
                }
                // Without a reserve (or another failure): pause instead of spinning.
                backoff.expires_after(100ms);
                co_await backoff.async_wait(use_tuple);
                if (reserve < 0)
                    reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            close_on_exec(sock.native_handle());
            start_session(env, std::move(sock));
        }
        if (reserve >= 0)
            ::close(reserve);
    }

    // Closes connections whose deadline passed (header, idle and I/O timeouts), once a second per worker.
    static void arm_sweeper(worker& w) {
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
                boost::system::error_code ec;
                for (auto& a : tcp_acceptors[i])
                    a->close(ec);
                if (i == 0)
                    for (auto& a : unix_acceptors)
                        a->close(ec);
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
        asio::co_spawn(workers[0]->ioc, stop_children(), asio::detached);
        asio::post(workers[0]->ioc, [this] { wait_drained(); });
    }

    void wait_drained() {
        std::size_t open = 0;
        for (auto& w : workers)
            open += w->connection_count.load();
        bool connections_done = open == 0 || std::chrono::steady_clock::now() >= drain_until;
        if (connections_done && children_stopped) {
            if (open)
                log::warn("{} connection(s) still busy after {}s; closing them", open,
                          drain_deadline.count());
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
        token_timer.cancel();
        signals.cancel(ec);
        reaper.stop();
        for (auto& w : workers)
            w->ioc.stop();
    }
};

server::server(const config& cfg, auth::token_store& tokens)
    : impl_(std::make_unique<impl>(cfg, tokens)) {}
server::~server() {
    for (const auto& p : impl_->unix_paths)
        ::unlink(p.c_str());
}

router& server::routes() {
    return impl_->routes;
}
services& server::svc() {
    return impl_->svc;
}

std::vector<std::string> server::bind() {
    auto& m = *impl_;
    std::vector<std::string> bound;
    m.tcp_acceptors.resize(m.workers.size());
    for (const auto& addr : m.cfg.listen) {
        if (addr.type == listen_address::kind::unix_socket) {
            struct stat st {};
            if (::lstat(addr.path.c_str(), &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                    throw std::system_error(EEXIST, std::generic_category(),
                                            "listen " + addr.text() + ": exists and is not a socket");
                ::unlink(addr.path.c_str()); // a stale socket from an earlier run
            }
            auto acc = std::make_unique<asio::local::stream_protocol::acceptor>(m.workers[0]->ioc);
            asio::local::stream_protocol::endpoint ep(addr.path);
            acc->open(ep.protocol());
            close_on_exec(acc->native_handle());
            acc->bind(ep);
            acc->listen(asio::socket_base::max_listen_connections);
            m.unix_paths.push_back(addr.path);
            m.unix_acceptors.push_back(std::move(acc));
            bound.push_back(addr.text());
            continue;
        }
        boost::system::error_code ec;
        auto ip = asio::ip::make_address(addr.host, ec);
        asio::ip::tcp::endpoint ep;
        if (ec) {
            // A host name: resolve it once, at start.
            asio::ip::tcp::resolver resolver(m.workers[0]->ioc);
            auto results = resolver.resolve(addr.host, std::to_string(addr.port));
            if (results.empty())
                throw std::system_error(EADDRNOTAVAIL, std::generic_category(), "resolve " + addr.host);
            ep = *results.begin();
        } else {
            ep = asio::ip::tcp::endpoint(ip, addr.port);
        }
        // One acceptor per worker with SO_REUSEPORT: the kernel spreads connections, no lock between threads.
        for (std::size_t i = 0; i < m.workers.size(); ++i) {
            auto acc = std::make_unique<asio::ip::tcp::acceptor>(m.workers[i]->ioc);
            acc->open(ep.protocol());
            close_on_exec(acc->native_handle());
            acc->set_option(asio::socket_base::reuse_address(true));
            if (m.workers.size() > 1) {
                int one = 1;
                ::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
            }
            if (ep.address().is_v6()) {
                int one = 1;
                ::setsockopt(acc->native_handle(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            }
            acc->bind(ep);
            acc->listen(asio::socket_base::max_listen_connections);
            if (i == 0)
                ep = acc->local_endpoint(); // port 0 becomes the real port for the other workers
            m.tcp_acceptors[i].push_back(std::move(acc));
        }
        listen_address actual = addr;
        actual.host = ep.address().to_string();
        actual.port = ep.port();
        bound.push_back(actual.text());
    }
    return bound;
}

int server::run() {
    auto& m = *impl_;
    m.reaper.start();
    m.arm_signals();
    m.arm_token_watch();
    if (m.engine_proc)
        m.engine_proc->start();
    if (m.scripts.configured())
        m.scripts.rebuild();
    if (m.cfg.snapshot_interval > 0)
        asio::co_spawn(m.workers[0]->ioc, m.take_snapshots(), asio::detached);
    m.snapshots.start_pinning();
    if (m.follower) {
        m.follower->tick(); // notes where the existing files end
        asio::co_spawn(m.workers[0]->ioc, m.follow_engine_logs(), asio::detached);
    }
    for (std::size_t i = 0; i < m.workers.size(); ++i) {
        impl::arm_sweeper(*m.workers[i]);
        for (auto& acc : m.tcp_acceptors[i])
            asio::co_spawn(m.workers[i]->ioc, impl::run_accept(*acc, *m.envs[i]), asio::detached);
    }
    for (auto& acc : m.unix_acceptors)
        asio::co_spawn(m.workers[0]->ioc, impl::run_accept(*acc, *m.envs[0]), asio::detached);

    notify_ready();
    for (std::size_t i = 1; i < m.workers.size(); ++i)
        m.workers[i]->thread = std::thread([w = m.workers[i].get()] { w->ioc.run(); });
    m.workers[0]->ioc.run();
    for (std::size_t i = 1; i < m.workers.size(); ++i) {
        m.workers[i]->ioc.stop();
        if (m.workers[i]->thread.joinable())
            m.workers[i]->thread.join();
    }
    m.pool.stop();
    join_stream_threads(std::chrono::seconds(5));
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
