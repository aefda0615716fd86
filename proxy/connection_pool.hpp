#pragma once
// Idle keep-alive connections to the services behind the front door, kept per I/O thread's context.
// Thread-safe.
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace boost::asio {
class execution_context;
}

namespace ag::proxy {

// Whether an idle connection can no longer carry a request: the service closed it, or it has bytes to read
// that no request asked for. One non-blocking peek.
bool stale(boost::asio::ip::tcp::socket& s);

// Idle keep-alive connections to upstreams, per I/O thread's context. A connection idle for longer than
// `max_idle` is not reused (services close theirs after a few seconds: Node's default is 5 s).
class connection_pool {
public:
    connection_pool() = default;
    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;
    ~connection_pool();
    // A connection is handed out only when it has nothing to read: not closed by the service meanwhile, and
    // no stray bytes an earlier exchange left (they would be taken for the next request's answer).
    std::optional<boost::asio::ip::tcp::socket> take(boost::asio::execution_context* ctx,
                                                     const boost::asio::ip::tcp::endpoint& to);
    void give_back(boost::asio::execution_context* ctx, const boost::asio::ip::tcp::endpoint& to,
                   boost::asio::ip::tcp::socket s);
    // Closes every idle connection (at stop, before the I/O contexts go).
    void clear();

    static constexpr std::size_t max_idle_per_upstream = 32;
    static constexpr auto max_idle = std::chrono::seconds(4);

private:
    struct idle {
        boost::asio::ip::tcp::socket socket;
        std::chrono::steady_clock::time_point since;
    };
    using key = std::pair<boost::asio::execution_context*, boost::asio::ip::tcp::endpoint>;
    std::mutex mutex_;
    std::map<key, std::vector<idle>> idle_;
};

} // namespace ag::proxy
