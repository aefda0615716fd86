#include "proxy/connection_pool.hpp"
#include "runtime/net.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace ag::proxy {

bool stale(tcp::socket& s) {
    // An idle connection the service has closed reads as end of file (or has unexpected bytes).
    char c;
    ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

connection_pool::~connection_pool() {
    clear();
}

std::optional<tcp::socket> connection_pool::take(asio::execution_context* ctx, const tcp::endpoint& to) {
    std::lock_guard lock(mutex_);
    auto it = idle_.find({ctx, to});
    if (it == idle_.end())
        return std::nullopt;
    auto& list = it->second;
    auto now = std::chrono::steady_clock::now();
    while (!list.empty()) {
        idle c = std::move(list.back());
        list.pop_back();
        if (now - c.since < max_idle && !stale(c.socket))
            return std::move(c.socket);
    }
    return std::nullopt;
}

void connection_pool::give_back(asio::execution_context* ctx, const tcp::endpoint& to, tcp::socket s) {
    std::lock_guard lock(mutex_);
    auto& list = idle_[{ctx, to}];
    if (list.size() >= max_idle_per_upstream)
        list.erase(list.begin()); // the oldest goes
    list.push_back({std::move(s), std::chrono::steady_clock::now()});
}

void connection_pool::clear() {
    std::lock_guard lock(mutex_);
    idle_.clear();
}

} // namespace ag::proxy
