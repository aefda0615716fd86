#include "proxy/forward.hpp"

#include "gateway/errors.hpp"
#include "gateway/pass_exchange.hpp"
#include "proxy/frame_edges.hpp"
#include "proxy/header_rules.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/log.hpp"
#include "util/scope_exit.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <array>

namespace ag::proxy {
namespace {

constexpr std::size_t upstream_header_limit = 64 * 1024;
constexpr std::size_t body_piece = 64 * 1024;
constexpr std::size_t slow_body_piece = 4 * 1024; // a request body's first pieces (pump_request_body)
constexpr std::size_t tunnel_piece = 4 * 1024; // client to service; a tunnel stays small (docs/api.md §11)

// Wakes a coroutine waiting for another to finish.
struct finish_line {
    explicit finish_line(const asio::any_io_executor& ex)
        : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool finished = false;
    void finish() {
        finished = true;
        timer.cancel();
    }
    asio::awaitable<void> wait() {
        while (!finished)
            co_await timer.async_wait(use_tuple);
    }
};

// How a request body's pump ended: the whole body sent, or which side failed first. A service that resets
// mid-body is a 502 for the client; a client that goes mid-body is reset at the service.
enum class body_end { going, sent, client_failed, service_failed };

// One exchange's state: the upstream connection and how the deadline sweep reaches it.
struct exchange {
    pass_exchange& x;
    const forward_options& options;
    tcp::socket up;
    beast::flat_buffer up_buffer;
    bool timed_out = false;
    std::function<void()> saved_cancel;

    exchange(pass_exchange& xx, const forward_options& o, tcp::socket s)
        : x(xx)
        , options(o)
        , up(std::move(s)) {
        // The worker's once-a-second sweep (gateway/connection_handle.hpp) calls this when the deadline
        // passes: it stops the upstream side too, so no timer is armed per operation.
        saved_cancel = std::move(x.conn.cancel);
        x.conn.cancel = [this] {
            timed_out = true;
            if (saved_cancel)
                saved_cancel();
            boost::system::error_code ignored;
            up.cancel(ignored);
        };
    }
    ~exchange() { x.conn.cancel = std::move(saved_cancel); }
    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    void expire() { x.conn.expire_after(options.timeout); }

    asio::awaitable<bool> to_client(std::string_view bytes) {
        expire();
        auto [ec, n] =
            co_await asio::async_write(x.client, asio::buffer(bytes.data(), bytes.size()), use_tuple);
        x.bytes += n;
        co_return !ec;
    }
    asio::awaitable<bool> to_upstream(std::string_view bytes) {
        expire();
        auto [ec, n] = co_await asio::async_write(up, asio::buffer(bytes.data(), bytes.size()), use_tuple);
        co_return !ec;
    }
    // One piece of a chunked body: size line, data and CRLF in one write.
    template <class Stream> asio::awaitable<bool> chunk(Stream& s, std::string_view data) {
        std::string size = fmt::format("{:x}\r\n", data.size());
        std::array<asio::const_buffer, 3> parts{asio::buffer(size), asio::buffer(data.data(), data.size()),
                                                asio::buffer("\r\n", 2)};
        expire();
        auto [ec, n] = co_await asio::async_write(s, parts, use_tuple);
        if constexpr (std::is_same_v<Stream, byte_stream>)
            x.bytes += data.size();
        co_return !ec;
    }

    // The client's request body to the service, piece by piece as it arrives; which side failed, if one did.
    asio::awaitable<body_end> pump_request_body() {
        // A slow client holds 4 KiB here (a thousand trickling uploads cost 4 MiB, not 128); the first read
        // that fills it grows it, and the room to read into, to 64 KiB.
        std::string piece(slow_body_piece, '\0');
        const bool chunked = x.parser.chunked();
        x.buffer.reserve(slow_body_piece); // room to read more than 512 bytes at a time
        while (!x.parser.is_done()) {
            x.parser.get().body().data = piece.data();
            x.parser.get().body().size = piece.size();
            expire();
            auto [ec, n] = co_await http::async_read_some(x.client, x.buffer, x.parser, use_tuple);
            if (ec == http::error::need_buffer)
                ec = {};
            if (ec)
                co_return body_end::client_failed;
            std::string_view got(piece.data(), piece.size() - x.parser.get().body().size);
            if (got.empty())
                continue;
            const bool grow = got.size() == piece.size() && piece.size() < body_piece;
            // One co_await per statement: GCC 12 evaluates a co_await inside ?:, && or || even when the
            // other side decides (it sent this body's bytes twice, and a last chunk after a sized body).
            bool sent = false;
            if (chunked)
                sent = co_await chunk(up, got);
            else
                sent = co_await to_upstream(got);
            if (!sent)
                co_return body_end::service_failed;
            if (grow) {
                piece.resize(body_piece);
                x.buffer.reserve(body_piece);
            }
        }
        if (!chunked)
            co_return body_end::sent;
        bool last_sent = co_await to_upstream("0\r\n\r\n");
        co_return last_sent ? body_end::sent : body_end::service_failed;
    }

    // After a 101: bytes both ways until one side goes. What either side sent behind the handshake goes
    // first.
    asio::awaitable<void> tunnel() {
        x.conn.expire_never();
        auto ex = co_await asio::this_coro::executor;
        finish_line client_side(ex);
        asio::co_spawn(
            ex,
            [this]() -> asio::awaitable<void> {
                std::string piece(tunnel_piece, '\0');
                if (x.buffer.size() > 0) {
                    auto [ec, n] = co_await asio::async_write(up, x.buffer.data(), use_tuple);
                    if (ec)
                        co_return;
                    x.buffer.consume(x.buffer.size());
                }
                x.buffer.shrink_to_fit();
                for (;;) {
                    auto [ec, n] = co_await x.client.async_read_some(asio::buffer(piece), use_tuple);
                    if (ec)
                        break;
                    auto [wec, wn] = co_await asio::async_write(up, asio::buffer(piece.data(), n), use_tuple);
                    if (wec)
                        break;
                }
                // The client is done sending: tell the service, and give it a moment to close its side.
                boost::system::error_code ignored;
                up.shutdown(tcp::socket::shutdown_send, ignored);
                x.conn.expire_after(std::chrono::seconds(10));
            },
            [&client_side](const std::exception_ptr&) { client_side.finish(); });

        frame_edges edges;
        auto send = [&](const char* data, std::size_t n) -> asio::awaitable<bool> {
            edges.feed(reinterpret_cast<const unsigned char*>(data), n);
            auto [ec, wn] = co_await asio::async_write(x.client, asio::buffer(data, n), use_tuple);
            x.bytes += wn;
            co_return !ec;
        };
        bool client_ok = true;
        if (up_buffer.size() > 0) {
            std::string first(static_cast<const char*>(up_buffer.data().data()), up_buffer.size());
            up_buffer.consume(up_buffer.size());
            client_ok = co_await send(first.data(), first.size());
        }
        up_buffer.shrink_to_fit();
        // Idle tunnels hold no buffer on this side: wait until the service has something, read it into this
        // thread's scratch buffer without blocking, and keep a copy only while it is being written.
        up.non_blocking(true);
        thread_local std::array<char, 16 * 1024> scratch;
        while (client_ok) {
            auto [wec] = co_await up.async_wait(tcp::socket::wait_read, use_tuple);
            if (wec)
                break;
            boost::system::error_code ec;
            std::size_t n = up.read_some(asio::buffer(scratch), ec);
            if (ec == asio::error::would_block)
                continue;
            if (ec)
                break;
            std::string pending(scratch.data(), n);
            client_ok = co_await send(pending.data(), pending.size());
        }
        boost::system::error_code ignored;
        if (client_ok && !edges.close_seen() && edges.between_frames() && !client_side.finished) {
            // The service went without closing: 1011 (internal error), as the engine's being down is. The
            // client's answering close frame ends its side (its write to the closed service fails); it gets
            // 2 s for that.
            static constexpr std::array<char, 4> close_1011{'\x88', '\x02', '\x03', '\xF3'};
            up.close(ignored);
            x.conn.expire_after(std::chrono::seconds(2));
            co_await asio::async_write(x.client, asio::buffer(close_1011), use_tuple);
            co_await client_side.wait();
        }
        x.client.cancel();
        up.close(ignored);
        co_await client_side.wait();
    }
};

} // namespace

asio::awaitable<pass_result> forward(pass_exchange& x, const upstream& to, connection_pool& pool,
                                     const auth::token_store& tokens, const forward_options& options) {
    auto ex = co_await asio::this_coro::executor;
    auto* ctx = &asio::query(ex, asio::execution::context);
    const auto& req = x.parser.get();
    const bool upgrade = beast::websocket::is_upgrade(req);
    const bool head_request = req.method() == http::verb::head;
    const bool has_body = !x.parser.is_done();
    boost::system::error_code not_ip;
    const auto client_ip = asio::ip::make_address(x.client_address, not_ip);
    const bool local_client =
        not_ip ? x.client_address == "unix"
               : client_ip.is_loopback() ||
                     (client_ip.is_v6() && client_ip.to_v6().is_v4_mapped() &&
                      asio::ip::make_address_v4(asio::ip::v4_mapped, client_ip.to_v6()).is_loopback());
    std::string head =
        request_head(x, tokens, options, upgrade, options.attribute_local_clients || !local_client);
    // A connection goes back to the pool only when this exchange ended exactly at its framing boundary on
    // both sides (docs/api.md §4): the whole request sent, the whole answer read and nothing behind it.
    auto reusable = [&](bool answer_keep_alive, bool request_whole, exchange& xc) {
        return !upgrade && answer_keep_alive && request_whole && !xc.timed_out && xc.up_buffer.size() == 0 &&
               !stale(xc.up);
    };

    // A pooled connection the service closed meanwhile fails before any answer: a request that has not
    // sent a body byte is then sent once more on a new connection.
    std::optional<tcp::socket> reused = upgrade ? std::nullopt : pool.take(ctx, to.endpoint);
    for (int attempt = 0;; ++attempt) {
        const bool fresh = !reused;
        exchange xc(x, options, fresh ? tcp::socket(ex) : std::move(*reused));
        reused.reset();
        xc.expire();
        if (fresh) {
            auto [ec] = co_await xc.up.async_connect(to.endpoint, use_tuple);
            if (ec) {
                log::debug("proxy: {}: {}", to.endpoint.port(), ec.message());
                co_return pass_result{pass_outcome::keep_alive,
                                      xc.timed_out
                                          ? error_response(error_kind::gateway_timeout, "Upstream timeout")
                                          : error_response(error_kind::bad_gateway, "Upstream unavailable")};
            }
            boost::system::error_code ignored;
            xc.up.set_option(tcp::no_delay(true), ignored);
        }
        const bool head_sent = co_await xc.to_upstream(head);
        if (!head_sent) {
            if (!fresh && attempt == 0)
                continue; // nothing of the body was sent yet: a new connection may take it
            co_return pass_result{pass_outcome::keep_alive,
                                  error_response(error_kind::bad_gateway, "Upstream unavailable")};
        }

        // The request body goes alongside reading the answer: a service may answer before it has read it all.
        std::optional<finish_line> body_done;
        body_end body = has_body ? body_end::going : body_end::sent;
        if (has_body) {
            body_done.emplace(ex);
            asio::co_spawn(
                ex,
                [&]() -> asio::awaitable<void> {
                    const body_end pumped = co_await xc.pump_request_body();
                    body = pumped;
                },
                [&](const std::exception_ptr& e) {
                    if (e)
                        body = body_end::client_failed;
                    if (body != body_end::sent) {
                        // A body cut short must not look complete to the service.
                        boost::system::error_code ignored;
                        xc.up.close(ignored);
                    }
                    body_done->finish();
                });
        }
        // However the answer goes, the body pump is stopped and waited for before the exchange ends.
        auto settle_body = [&]() -> asio::awaitable<void> {
            if (!body_done || body_done->finished)
                co_return;
            x.client.cancel();
            boost::system::error_code ignored;
            xc.up.close(ignored);
            co_await body_done->wait();
        };

        // The answer's head; interim answers (100 Continue, 103) are passed on as they come.
        std::optional<http::response_parser<http::buffer_body>> rp;
        boost::system::error_code ec;
        for (;;) {
            rp.emplace();
            rp->header_limit(upstream_header_limit);
            rp->body_limit(boost::none);
            if (head_request)
                rp->skip(true);
            xc.expire();
            std::tie(ec, std::ignore) = co_await http::async_read_header(xc.up, xc.up_buffer, *rp, use_tuple);
            if (ec || rp->get().result_int() / 100 != 1 || rp->get().result_int() == 101)
                break;
            const bool interim_sent = co_await xc.to_client(response_head(*rp, x, framing::none, true));
            if (!interim_sent) {
                co_await settle_body();
                co_return pass_result{pass_outcome::reset, std::nullopt};
            }
        }
        if (ec) {
            const bool nothing_came = xc.up_buffer.size() == 0 && !rp->got_some();
            if (!fresh && !has_body && attempt == 0 && nothing_came && !xc.timed_out &&
                (ec == http::error::end_of_stream || ec == asio::error::eof ||
                 ec == asio::error::connection_reset))
                continue;
            // Decided before settle_body, which stops a pump still reading the client.
            const bool client_went = body == body_end::client_failed;
            co_await settle_body();
            if (client_went && !xc.timed_out)
                co_return pass_result{pass_outcome::reset, std::nullopt}; // the client went mid-body
            log::debug("proxy: {}: no answer: {}", to.endpoint.port(), ec.message());
            if (xc.timed_out)
                co_return pass_result{pass_outcome::close,
                                      error_response(error_kind::gateway_timeout, "Upstream timeout")};
            if (ec == http::error::header_limit)
                co_return pass_result{
                    pass_outcome::close,
                    error_response(error_kind::bad_gateway, "Upstream answer headers too large")};
            co_return pass_result{pass_outcome::close,
                                  error_response(error_kind::bad_gateway, "Upstream unavailable")};
        }

        auto& res = rp->get();
        const unsigned status = res.result_int();
        x.status = status;
        if (upgrade && status == 101) {
            const bool switched = co_await xc.to_client(response_head(*rp, x, framing::none, true));
            if (!switched)
                co_return pass_result{pass_outcome::reset, std::nullopt};
            // A tunnel may stay open for hours: what only the handshake needed goes first.
            rp.reset();
            std::string().swap(head);
            metrics::held open(options.tunnels_open);
            co_await xc.tunnel();
            co_return pass_result{pass_outcome::taken, std::nullopt};
        }

        const bool client_http11 = req.version() >= 11;
        framing how = framing::none;
        if (!head_request && status != 204 && status != 304) {
            if (rp->content_length())
                how = framing::length;
            else if (rp->chunked() || client_http11)
                how = client_http11 ? framing::chunked : framing::until_close;
            else
                how = framing::until_close;
            if (rp->is_done() && !rp->content_length() && !rp->chunked())
                how = framing::none; // nothing to come (Beast knows the message ended)
        }
        bool keep_alive = x.keep_alive && how != framing::until_close && !upgrade;
        std::string out_head = response_head(*rp, x, how, keep_alive);
        if (how == framing::length) {
            // A sized body goes by itself, past the parser: what came with the head leaves in the same write
            // as the head (one system call for a small answer), the rest straight from the socket.
            std::uint64_t left = *rp->content_length();
            auto first = static_cast<std::size_t>(std::min<std::uint64_t>(left, xc.up_buffer.size()));
            std::array<asio::const_buffer, 2> parts{asio::buffer(out_head),
                                                    asio::buffer(xc.up_buffer.data().data(), first)};
            xc.expire();
            auto [wec, wn] = co_await asio::async_write(x.client, parts, use_tuple);
            xc.up_buffer.consume(first);
            left -= first;
            std::string piece(static_cast<std::size_t>(std::min<std::uint64_t>(left, body_piece)), '\0');
            while (!wec && left > 0) {
                xc.expire();
                auto [rec, n] = co_await xc.up.async_read_some(
                    asio::buffer(piece.data(),
                                 static_cast<std::size_t>(std::min<std::uint64_t>(left, piece.size()))),
                    use_tuple);
                if (rec) {
                    log::debug("proxy: {}: answer cut short: {}", to.endpoint.port(), rec.message());
                    break;
                }
                left -= n;
                bool sent = co_await xc.to_client({piece.data(), n});
                if (!sent)
                    wec = asio::error::broken_pipe;
            }
            co_await settle_body();
            if (wec || left > 0)
                co_return pass_result{pass_outcome::reset, std::nullopt};
            x.bytes = *rp->content_length();
            const bool request_whole = !has_body || (body == body_end::sent && x.parser.is_done());
            if (reusable(rp->keep_alive(), request_whole, xc))
                pool.give_back(ctx, to.endpoint, std::move(xc.up));
            co_return pass_result{
                keep_alive && request_whole ? pass_outcome::keep_alive : pass_outcome::close, std::nullopt};
        }
        const bool head_out = co_await xc.to_client(out_head);
        if (!head_out) {
            co_await settle_body();
            co_return pass_result{pass_outcome::reset, std::nullopt};
        }
        x.bytes = 0;

        // The body as it comes: Server-Sent Events and long polls reach the client when the service writes.
        const auto fields_in_head = static_cast<std::size_t>(std::distance(res.begin(), res.end()));
        // Beast reads what the buffer has room for (at least 512 bytes): without room, a body comes 512 bytes
        // a system call.
        if (!rp->is_done())
            xc.up_buffer.reserve(body_piece);
        std::string piece;
        bool complete = true;
        while (!rp->is_done()) {
            if (piece.empty())
                piece.resize(rp->content_length() ? std::min<std::uint64_t>(*rp->content_length(), body_piece)
                                                  : body_piece);
            res.body().data = piece.data();
            res.body().size = piece.size();
            xc.expire();
            auto [rec, n] = co_await http::async_read_some(xc.up, xc.up_buffer, *rp, use_tuple);
            if (rec == http::error::need_buffer)
                rec = {};
            std::string_view got(piece.data(), piece.size() - res.body().size);
            bool sent = true;
            if (!got.empty() && how == framing::chunked)
                sent = co_await xc.chunk(x.client, got);
            else if (!got.empty())
                sent = co_await xc.to_client(got);
            if (!sent) {
                co_await settle_body();
                co_return pass_result{pass_outcome::reset, std::nullopt};
            }
            if (rec) {
                complete = false;
                log::debug("proxy: {}: answer cut short: {}", to.endpoint.port(), rec.message());
                break;
            }
        }
        co_await settle_body();
        if (!complete)
            co_return pass_result{pass_outcome::reset, std::nullopt};
        if (how == framing::chunked) {
            // Trailer fields arrive after the body; Beast adds them behind the head's.
            std::string last = "0\r\n";
            std::size_t i = 0;
            for (const auto& f : res)
                if (i++ >= fields_in_head)
                    add_field(last, f.name_string(), f.value());
            last.append("\r\n");
            const bool last_out = co_await xc.to_client(last);
            if (!last_out)
                co_return pass_result{pass_outcome::reset, std::nullopt};
        }
        if (how == framing::until_close)
            co_return pass_result{pass_outcome::close, std::nullopt};
        const bool request_whole = !has_body || (body == body_end::sent && x.parser.is_done());
        if (reusable(rp->keep_alive() && rp->is_done(), request_whole, xc))
            pool.give_back(ctx, to.endpoint, std::move(xc.up));
        co_return pass_result{keep_alive && request_whole ? pass_outcome::keep_alive : pass_outcome::close,
                              std::nullopt};
    }
}

} // namespace ag::proxy