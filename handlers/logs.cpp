// Logs (docs/api.md §7): GET …/logs, and the WebSocket stream at /v0/logs and …/logs/stream.
//
// The stream frames its own messages: every entry is encoded once as a WebSocket frame by the hub and the
// same bytes go to every subscriber, many per write. One writer per connection sends entries, pings, pongs
// and the close; one reader answers the client's control frames. Neither ever waits for the other or for
// another client.
#include "handlers/routes.hpp"

#include "auth/token_store.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "gateway/websocket_session.hpp"
#include "handlers/stream_viewer.hpp"
#include "logs/hub.hpp"
#include "logs/ws_frame.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/text.hpp"
#include "util/time_format.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

namespace ag {
namespace {

namespace ws = logs::ws;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

constexpr std::size_t default_lines = 100;
constexpr std::size_t max_lines = 1000;
constexpr std::size_t write_batch = 256 * 1024;
constexpr auto ping_every = 30s;
constexpr auto peer_silence_limit = 95s; // three pings unanswered: the peer is gone
using stream_viewer::close_grace;
using stream_viewer::token_check_every;

boost::asio::awaitable<response> get_logs(const log_routes& area, request& req) {
    std::size_t n = default_lines;
    if (auto v = text::find_param(req.query, "lines")) {
        auto parsed = text::parse_u64(*v);
        if (!parsed || *parsed < 1 || *parsed > max_lines)
            throw api_error(error_kind::bad_request, "lines must be an integer from 1 to 1000");
        n = static_cast<std::size_t>(*parsed);
    }
    std::string out;
    for (const auto& e : area.logs.entries().last(n)) {
        if (!out.empty())
            out += '\n';
        out += logs::to_line(e);
    }
    co_return json_response({{"logs", std::move(out)}});
}

struct stream_params {
    logs::level min_level = logs::level::trace;
    std::optional<std::uint64_t> after;
    std::string error;
};

stream_params parse_stream_params(const request& req) {
    stream_params p;
    if (auto v = text::find_param(req.query, "level"); v && !v->empty()) {
        if (auto l = logs::parse_level(*v))
            p.min_level = *l;
        else
            p.error = "Invalid level: use TRACE, DEBUG, INFO, WARN, ERROR or FATAL";
    }
    if (auto v = text::find_param(req.query, "after"); v && !v->empty()) {
        if (auto a = text::parse_u64(*v))
            p.after = *a;
        else
            p.error = "Invalid after: must be a non-negative integer";
    }
    return p;
}

std::string drop_marker(std::uint64_t dropped) {
    nlohmann::json j{{"timestamp", time_format::iso8601_ms_now()},
                     {"level", "WARN"},
                     {"source", "agent-gateway"},
                     {"message", std::to_string(dropped) + " entries dropped"}};
    return ws::encode(ws::opcode::text, j.dump());
}

// Shared by the writer, the reader, the hub's wake-up and the shutdown hook; all on the connection's thread.
struct stream_state : stream_viewer::state_base {
    using state_base::state_base;
    bool peer_closed = false;
    bool protocol_error = false;
    bool invalid_utf8 = false;
    std::uint16_t peer_close_code = 1000;
    std::optional<std::string> pong;
    clock::time_point last_heard = clock::now();
};

class log_stream {
public:
    log_stream(const log_routes& area, websocket_connection& conn, std::shared_ptr<stream_state> st,
               std::shared_ptr<logs::hub::subscription> sub, std::string token)
        : area_(area)
        , conn_(conn)
        , st_(std::move(st))
        , sub_(std::move(sub))
        , token_(area.tokens, std::move(token)) {}

    asio::awaitable<void> writer(std::vector<logs::shared_frame> backlog) {
        for (auto& f : backlog) {
            out_ += *f;
            if (out_.size() < write_batch)
                continue;
            bool sent = co_await flush();
            if (!sent)
                co_return finish();
        }
        backlog.clear();
        auto next_ping = clock::now() + ping_every;
        for (;;) {
            if (st_->peer_gone)
                break;
            if (st_->shutdown) {
                co_await send_close(1001, "server shutting down");
                break;
            }
            if (st_->protocol_error) {
                if (st_->invalid_utf8)
                    co_await send_close(1007, "invalid UTF-8");
                else
                    co_await send_close(1002, "protocol error");
                break;
            }
            if (st_->peer_closed) {
                co_await send_close(st_->peer_close_code, "");
                break;
            }
            if (token_.rotated()) {
                co_await send_close(1008, "token rotated");
                break;
            }
            auto now = clock::now();
            if (now - st_->last_heard > peer_silence_limit) {
                co_await send_close(1001, "no answer to pings");
                break;
            }
            if (st_->pong) {
                out_ += ws::encode(ws::opcode::pong, *st_->pong);
                st_->pong.reset();
            }
            std::size_t start = out_.size();
            if (auto dropped = area_.logs.poll_into(*sub_, out_, write_batch))
                out_.insert(start, drop_marker(dropped)); // rare: only a reader 1 MiB behind
            if (now >= next_ping) {
                out_ += ws::encode(ws::opcode::ping, {});
                next_ping = now + ping_every;
            }
            if (!out_.empty()) {
                bool sent = co_await flush();
                if (!sent)
                    break;
                continue;
            }
            st_->wake.expires_at(std::min(next_ping, now + token_check_every));
            co_await st_->wake.async_wait(use_tuple);
        }
        finish();
    }

    asio::awaitable<void> refuse(std::string_view reason) {
        co_await send_close(1008, reason);
        finish();
    }

    asio::awaitable<void> reader() {
        ws::parser parser;
        ws::frame f;
        std::string buf(4096, '\0');
        for (;;) {
            auto [ec, n] = co_await conn_.read_raw(buf.data(), buf.size());
            if (ec) {
                st_->peer_gone = true;
                st_->poke();
                co_return;
            }
            st_->last_heard = clock::now();
            std::string_view in(buf.data(), n);
            while (!in.empty()) {
                auto s = parser.feed(in, f);
                if (s == ws::parser::status::need_more)
                    break;
                if (s == ws::parser::status::protocol_error || s == ws::parser::status::invalid_utf8) {
                    st_->protocol_error = true;
                    st_->invalid_utf8 = s == ws::parser::status::invalid_utf8;
                    st_->poke();
                    co_return;
                }
                if (f.op == ws::opcode::ping) {
                    st_->pong = f.payload;
                    st_->poke();
                } else if (f.op == ws::opcode::close) {
                    if (f.payload.size() >= 2)
                        st_->peer_close_code =
                            static_cast<std::uint16_t>((static_cast<unsigned char>(f.payload[0]) << 8) |
                                                       static_cast<unsigned char>(f.payload[1]));
                    st_->peer_closed = true;
                    st_->poke();
                }
                // Data frames from the client mean nothing here; pongs just prove it is alive.
            }
        }
    }

private:
    asio::awaitable<bool> flush() {
        auto ec = co_await conn_.write_raw(out_);
        out_.clear();
        if (ec)
            st_->peer_gone = true;
        co_return !ec;
    }

    // Sends our close (after whatever is queued) and gives the peer a moment to answer before the
    // connection is dropped.
    asio::awaitable<void> send_close(std::uint16_t code, std::string_view reason) {
        out_ += ws::encode_close(code, reason);
        bool sent = co_await flush();
        if (!sent)
            co_return;
        auto deadline = clock::now() + close_grace;
        while (!st_->peer_gone && !st_->peer_closed && clock::now() < deadline) {
            st_->wake.expires_at(deadline);
            co_await st_->wake.async_wait(use_tuple);
        }
    }

    void finish() { conn_.abort(); } // ends the reader

    const log_routes& area_;
    websocket_connection& conn_;
    std::shared_ptr<stream_state> st_;
    std::shared_ptr<logs::hub::subscription> sub_;
    stream_viewer::token_watch token_;
    std::string out_;
};

asio::awaitable<void> stream_logs(const log_routes& area, websocket_connection& conn, request& req) {
    using namespace asio::experimental::awaitable_operators;
    auto params = parse_stream_params(req);
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<stream_state>(ex);
    std::weak_ptr<stream_state> weak = st;
    if (!params.error.empty()) {
        // Nothing to stream: close with the reason, and let the reader see the client's answer.
        st->shutdown_timer.expires_after(close_grace);
        st->shutdown_timer.async_wait([&conn](const boost::system::error_code& ec) {
            if (!ec)
                conn.abort();
        });
        log_stream stream(area, conn, st, nullptr, {});
        // Both at once (asio's awaitable operator, not a short circuit), named apart from the co_await.
        auto both = stream.refuse(params.error) && stream.reader();
        co_await std::move(both);
        st->shutdown_timer.cancel();
        co_return;
    }
    auto [backlog, sub] =
        area.logs.subscribe({params.min_level, params.after, default_lines, stream_viewer::waker(weak, ex)});
    stream_viewer::end_at_shutdown(conn, weak);
    // The token this stream was opened with, to notice when a rotation retires it.
    log_stream stream(area, conn, st, sub, req.auth_token);
    auto both = stream.writer(std::move(backlog)) && stream.reader();
    co_await std::move(both);
    area.logs.unsubscribe(*sub);
    conn.on_shutdown = nullptr;
    st->shutdown_timer.cancel();
}

} // namespace

void log_routes::add_to(router& r) const {
    const log_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}/logs", [area](request& req) { return get_logs(area, req); });
    auto stream = [area](websocket_connection& c, request& req) { return stream_logs(area, c, req); };
    r.add_websocket("/v0/logs", stream);
    r.add_websocket("/v0/agents/{agentId}/logs/stream", stream);
}

} // namespace ag
