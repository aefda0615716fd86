#pragma once
// Binding and accepting: one TCP acceptor per worker (SO_REUSEPORT), unix sockets on worker 0. Internal to
// gateway/ (the server owns one).
#include "config/daemon_config.hpp"

#include <memory>
#include <string>
#include <vector>

namespace ag {

struct session_env;
struct worker;

class listeners {
public:
    listeners();
    ~listeners(); // removes the unix sockets it made
    listeners(const listeners&) = delete;
    listeners& operator=(const listeners&) = delete;

    // Binds every address; returns what was bound, e.g. "127.0.0.1:43121" or "unix:/run/x.sock" (port 0
    // resolved). Throws std::system_error.
    std::vector<std::string> bind(const std::vector<listen_address>& addresses,
                                  const std::vector<std::unique_ptr<worker>>& workers);
    // Starts accepting: connections on worker i get envs[i].
    void accept(const std::vector<std::unique_ptr<session_env>>& envs);
    // Stops accepting on worker `index` (call on its thread).
    void close(std::size_t index) noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ag
