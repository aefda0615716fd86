#pragma once
// What the WebSocket streams with a writer of their own share (the log stream, docs/api.md §7; a terminal's
// viewer, §17; a file watch, §19): waking the writer from any thread, the end at the daemon's shutdown and at
// a token rotation. `State` has `asio::steady_timer shutdown_timer`, `bool shutdown` and `void poke()` (wakes
// the writer), all used on the connection's thread.
#include "auth/token_store.hpp"
#include "gateway/websocket_session.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace ag::stream_viewer {

// The part of a stream's state the helpers below use: the writer's wake-up timer, the shutdown's grace timer
// and flag. Streams derive their own state from it.
struct state_base {
    explicit state_base(const boost::asio::any_io_executor& ex)
        : wake(ex)
        , shutdown_timer(ex) {}
    boost::asio::steady_timer wake;
    boost::asio::steady_timer shutdown_timer;
    bool shutdown = false;
    bool peer_gone = false;
    void poke() { wake.cancel(); }
};

// Notices when a token rotation retires the token a stream was opened with (docs/api.md §4: such streams
// close with 1008). Cheap enough to ask before every write: the store is consulted only after a rotation.
class token_watch {
public:
    token_watch(const auth::token_store& tokens, std::string token)
        : tokens_(tokens)
        , token_(std::move(token))
        , generation_(tokens.generation()) {}
    bool rotated() {
        auto g = tokens_.generation();
        if (g == generation_)
            return false;
        generation_ = g;
        return !tokens_.check(token_);
    }

private:
    const auth::token_store& tokens_;
    std::string token_;
    std::uint64_t generation_;
};

// The endings a writer that sends with `conn` checks before each message: the peer went away; the daemon
// stops (close 1001); a rotation retired the stream's token (close 1008). True when the writer should stop,
// its close sent.
// (Defined out of line: GCC's LTO takes an inline coroutine's frame, built once per translation unit, for an
// ODR violation.)
boost::asio::awaitable<bool> ending(websocket_connection& conn, const state_base& st, token_watch& token);

// A client that does not read cannot take our close frame: it is dropped this long after the shutdown began.
constexpr auto close_grace = std::chrono::seconds(2);
// How often a writer with nothing to send wakes to look for a token rotation (the token file is polled as
// often): a retired token's stream is closed within 2 s.
constexpr auto token_check_every = std::chrono::milliseconds(500);

// A wake-up for the writer that any thread may call (a publisher's); nothing once the stream is gone.
template <class State>
std::function<void()> waker(std::weak_ptr<State> weak, const boost::asio::any_io_executor& ex) {
    return [weak, ex] {
        boost::asio::post(ex, [weak] {
            if (auto s = weak.lock())
                s->poke();
        });
    };
}

// At the daemon's shutdown the writer says goodbye; the connection is dropped after close_grace.
template <class State> void end_at_shutdown(websocket_connection& conn, std::weak_ptr<State> weak) {
    conn.on_shutdown = [weak, &conn] {
        auto s = weak.lock();
        if (!s)
            return;
        s->shutdown = true;
        s->poke();
        s->shutdown_timer.expires_after(close_grace);
        s->shutdown_timer.async_wait([weak, &conn](const boost::system::error_code& ec) {
            if (!ec && weak.lock())
                conn.abort();
        });
    };
}

} // namespace ag::stream_viewer
