#pragma once
// What the WebSocket streams with a writer of their own share (the log stream, docs/api.md §7; a terminal's
// viewer, §17): waking the writer from any thread, and the end at the daemon's shutdown. `State` has
// `asio::steady_timer shutdown_timer`, `bool shutdown` and `void poke()` (wakes the writer), all used on the
// connection's thread.
#include "gateway/websocket_session.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>

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

// A client that does not read cannot take our close frame: it is dropped this long after the shutdown began.
constexpr auto close_grace = std::chrono::seconds(2);

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
