#include "gateway/listener.hpp"

#include "gateway/http_session.hpp"
#include "gateway/worker.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ag {
namespace {

using namespace std::chrono_literals;

// Asio opens and accepts sockets without SOCK_CLOEXEC. Spawning closes every descriptor above 2 anyway; this
// keeps the rule "everything the daemon opens is close-on-exec" true for any exec a library might make.
void close_on_exec(int fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

log::once_a_second accept_failures;

template <class Acceptor> asio::awaitable<void> run_accept(Acceptor& acc, session_env& env) {
    asio::steady_timer backoff(acc.get_executor());
    // One descriptor held back: when the table is full, it is given up to accept the waiting connection and
    // close it at once, so clients are refused instead of hanging in the backlog, and accepting resumes by
    // itself as soon as descriptors are free.
    int reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (;;) {
        auto [ec, sock] = co_await acc.async_accept(use_tuple);
        if (!acc.is_open() || ec.value() == ECANCELED)
            break;
        if (ec) {
            log::warn_rarely(accept_failures, "accept failed: {}", ec.message());
            // accept(2)'s own errno values (comparing with asio's enumerators trips UBSan's vptr check on the
            // category object of the separately compiled Asio).
            const bool out_of_fds =
                ec.value() == EMFILE || ec.value() == ENFILE || ec.value() == ENOBUFS || ec.value() == ENOMEM;
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

} // namespace

struct listeners::impl {
    // Acceptors by worker; unix sockets live on worker 0.
    std::vector<std::vector<std::unique_ptr<asio::ip::tcp::acceptor>>> tcp;
    std::vector<std::unique_ptr<asio::local::stream_protocol::acceptor>> unix_sockets;
    std::vector<std::string> unix_paths;
};

listeners::listeners()
    : impl_(std::make_unique<impl>()) {}

listeners::~listeners() {
    for (const auto& p : impl_->unix_paths)
        ::unlink(p.c_str());
}

std::vector<std::string> listeners::bind(const std::vector<listen_address>& addresses,
                                         const std::vector<std::unique_ptr<worker>>& workers) {
    auto& m = *impl_;
    std::vector<std::string> bound;
    m.tcp.resize(workers.size());
    for (const auto& addr : addresses) {
        if (addr.type == listen_address::kind::unix_socket) {
            struct stat st {};
            if (::lstat(addr.path.c_str(), &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                    throw std::system_error(EEXIST, std::generic_category(),
                                            "listen " + addr.text() + ": exists and is not a socket");
                ::unlink(addr.path.c_str()); // a stale socket from an earlier run
            }
            auto acc = std::make_unique<asio::local::stream_protocol::acceptor>(workers[0]->ioc);
            asio::local::stream_protocol::endpoint ep(addr.path);
            acc->open(ep.protocol());
            close_on_exec(acc->native_handle());
            acc->bind(ep);
            acc->listen(asio::socket_base::max_listen_connections);
            m.unix_paths.push_back(addr.path);
            m.unix_sockets.push_back(std::move(acc));
            bound.push_back(addr.text());
            continue;
        }
        boost::system::error_code ec;
        auto ip = asio::ip::make_address(addr.host, ec);
        asio::ip::tcp::endpoint ep;
        if (ec) {
            // A host name: resolve it once, at start.
            asio::ip::tcp::resolver resolver(workers[0]->ioc);
            auto results = resolver.resolve(addr.host, std::to_string(addr.port));
            if (results.empty())
                throw std::system_error(EADDRNOTAVAIL, std::generic_category(), "resolve " + addr.host);
            ep = *results.begin();
        } else {
            ep = asio::ip::tcp::endpoint(ip, addr.port);
        }
        // One acceptor per worker with SO_REUSEPORT: the kernel spreads connections, no lock between threads.
        for (std::size_t i = 0; i < workers.size(); ++i) {
            auto acc = std::make_unique<asio::ip::tcp::acceptor>(workers[i]->ioc);
            acc->open(ep.protocol());
            close_on_exec(acc->native_handle());
            acc->set_option(asio::socket_base::reuse_address(true));
            if (workers.size() > 1) {
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
            m.tcp[i].push_back(std::move(acc));
        }
        listen_address actual = addr;
        actual.host = ep.address().to_string();
        actual.port = ep.port();
        bound.push_back(actual.text());
    }
    return bound;
}

void listeners::accept(const std::vector<std::unique_ptr<session_env>>& envs) {
    auto& m = *impl_;
    for (std::size_t i = 0; i < m.tcp.size(); ++i)
        for (auto& acc : m.tcp[i])
            asio::co_spawn(acc->get_executor(), run_accept(*acc, *envs[i]), asio::detached);
    for (auto& acc : m.unix_sockets)
        asio::co_spawn(acc->get_executor(), run_accept(*acc, *envs[0]), asio::detached);
}

void listeners::close(std::size_t index) noexcept {
    boost::system::error_code ec;
    if (index < impl_->tcp.size())
        for (auto& a : impl_->tcp[index])
            a->close(ec);
    if (index == 0)
        for (auto& a : impl_->unix_sockets)
            a->close(ec);
}

} // namespace ag
