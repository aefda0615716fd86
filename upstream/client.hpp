#pragma once
// The daemon's one HTTP client, for the services it calls: the IPFS node now; the engine's hooks, task
// delivery and the front door's upstreams next. Beast reads and writes the messages; this file only opens
// the connection and bounds the time. Blocking, with a deadline on every read and write: for the pool and
// worker threads, never an I/O thread.
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ag::upstream {

// http://HOST[:PORT][/prefix]; the prefix goes in front of every target.
struct endpoint {
    std::string host;
    std::string port = "80";
    std::string prefix;
    std::string url; // as given
    // Throws std::invalid_argument for what is not an http:// URL.
    static endpoint parse(std::string_view url);
};

// Writes the body piece by piece through `emit` (sent chunked); emit returns false once sending failed.
using body_producer = std::function<void(const std::function<bool(std::string_view)>& emit)>;

struct request {
    std::string method = "GET";
    std::string target; // after the endpoint's prefix
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;              // sent with Content-Length when `stream` is unset
    const body_producer* stream{}; // when set, the body is what it produces
};

struct response {
    unsigned status = 0;
    std::string body; // de-chunked
    std::vector<std::pair<std::string, std::string>> headers;
    std::string_view header(std::string_view name) const; // case-insensitive; empty when absent
};

struct error : std::runtime_error {
    // unreachable: no connection, or no whole HTTP answer on it (it broke, went silent, or spoke something
    // else); otherwise the answer was over the size limit.
    error(const std::string& what, bool unreachable_)
        : std::runtime_error(what)
        , unreachable(unreachable_) {}
    bool unreachable;
};

// Ends fetches early from another thread (the daemon's shutdown): the socket of each one running is shut
// down, so a blocked send or recv returns at once and fetch throws error (unreachable); a fetch started after
// trip() throws at once. Thread-safe.
class abort_switch {
public:
    void trip();
    bool tripped() const;
    // For fetch: the socket to shut down while it is in use. attach returns false once tripped.
    bool attach(int fd);
    void detach(int fd);

private:
    mutable std::mutex mutex_;
    std::vector<int> fds_;
    bool tripped_ = false;
};

struct limits {
    std::chrono::seconds timeout{30};          // for the connect and for each read and write
    std::size_t max_body = 1024 * 1024 * 1024; // of the answer
    abort_switch* abort = nullptr;             // optional
};

// One request on a connection of its own (Connection: close). Any status is returned; throws error when
// there is no whole answer.
response fetch(const endpoint& to, const request& req, const limits& lim = {});

} // namespace ag::upstream
