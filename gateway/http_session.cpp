#include "gateway/http_session.hpp"

#include "auth/client_address.hpp"
#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "gateway/connection_limiter.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/errors.hpp"
#include "gateway/http_metrics.hpp"
#include "gateway/pass_exchange.hpp"
#include "gateway/router.hpp"
#include "gateway/session_parts.hpp"
#include "gateway/transports.hpp"
#include "gateway/worker.hpp"
#include "runtime/net.hpp"
#include "util/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/range/iterator_range_core.hpp>

#include <array>
#include <chrono>
#include <limits>

namespace ag {
namespace {

using namespace session_detail;

method to_method(http::verb v) {
    switch (v) {
    case http::verb::get:
        return method::get;
    case http::verb::head:
        return method::head;
    case http::verb::post:
        return method::post;
    case http::verb::put:
        return method::put;
    case http::verb::patch:
        return method::patch;
    case http::verb::delete_:
        return method::delete_;
    case http::verb::options:
        return method::options;
    default:
        return method::other;
    }
}

// Registers the connection with its worker for the lifetime of the session.
struct connection_guard {
    worker& w;
    connection_handle handle;
    explicit connection_guard(worker& wk)
        : w(wk) {
        w.connections.insert(&handle);
        w.connection_count.fetch_add(1, std::memory_order_relaxed);
    }
    ~connection_guard() {
        w.connections.erase(&handle);
        w.connection_count.fetch_sub(1, std::memory_order_relaxed);
    }
    connection_guard(const connection_guard&) = delete;
    connection_guard& operator=(const connection_guard&) = delete;
};

// Clients that send Expect: 100-continue (curl, for bodies over 1 MiB) wait for this before sending the body.
asio::awaitable<void> send_continue_if_expected(byte_stream& stream, connection_handle& conn,
                                                const http::request_header<>& hdr) {
    if (!text::iequals(hdr[http::field::expect], "100-continue"))
        co_return;
    http::response<http::empty_body> cont{http::status::continue_, 11};
    conn.expire_after(io_timeout);
    co_await http::async_write(stream, cont, use_tuple);
}

// Inside a catch block: what a route's handler or upgrade check threw, as its answer (docs/api.md §5).
response thrown_answer(const request& req) {
    try {
        throw;
    } catch (const api_error& e) {
        if (!e.detail.empty())
            log::warn("{} {}: {} ({})", method_name(req.verb),
                      text::redact_target(req.target, req.auth_token), e.what(), e.detail);
        return error_response(e);
    } catch (const std::exception& e) {
        log::error("{} {}: {}", method_name(req.verb), text::redact_target(req.target, req.auth_token),
                   e.what());
        return error_response(error_kind::internal, "Internal error");
    }
}

// The handler's answer, or the error it threw mapped to status and JSON.
asio::awaitable<response> call_handler(const route& r, request& req) {
    try {
        co_return co_await r.handler(req);
    } catch (const std::exception&) {
        co_return thrown_answer(req);
    }
}

// The upgrade check's refusal (nothing: go on with the upgrade), or the error it threw.
asio::awaitable<std::optional<response>> call_check(const route& r, request& req) {
    try {
        co_return co_await r.ws_check(req);
    } catch (const std::exception&) {
        co_return thrown_answer(req);
    }
}

// A body read piece by piece for a streaming route (docs/api.md §5: 413 past the limit, 400 when cut).
class streaming_body_reader final : public body_reader {
public:
    streaming_body_reader(byte_stream& s, connection_handle& conn, beast::flat_buffer& b,
                          http::request_parser<http::buffer_body>& p, std::string too_large)
        : stream_(s)
        , conn_(conn)
        , buffer_(b)
        , parser_(p)
        , too_large_(std::move(too_large)) {}

    asio::awaitable<std::optional<std::string>> read_some() override {
        std::string piece;
        // A read may yield only framing (a chunk header); keep going until there are bytes or the end.
        while (piece.empty() && !parser_.is_done()) {
            piece.resize(64 * 1024);
            parser_.get().body().data = piece.data();
            parser_.get().body().size = piece.size();
            conn_.expire_after(io_timeout);
            auto [ec, n] = co_await http::async_read_some(stream_, buffer_, parser_, use_tuple);
            if (ec == http::error::need_buffer)
                ec = {};
            if (ec == http::error::body_limit)
                throw api_error(error_kind::too_large, too_large_);
            if (ec)
                throw api_error(error_kind::bad_request, "Request body incomplete: " + ec.message());
            piece.resize(piece.size() - parser_.get().body().size);
        }
        if (piece.empty())
            co_return std::nullopt;
        co_return piece;
    }

private:
    byte_stream& stream_;
    connection_handle& conn_;
    beast::flat_buffer& buffer_;
    http::request_parser<http::buffer_body>& parser_;
    std::string too_large_;
};

dispatch_input input_of(const http::request_header<>& hdr, const std::string& remote, bool secure,
                        std::optional<std::uint64_t> content_length, std::string& forwarded_for) {
    dispatch_input in;
    in.verb = to_method(hdr.method());
    in.target = hdr.target();
    in.host = hdr[http::field::host];
    for (const auto& f : boost::make_iterator_range(hdr.equal_range(http::field::authorization)))
        in.authorizations.push_back(f.value());
    for (const auto& f : boost::make_iterator_range(hdr.equal_range(http::field::cookie)))
        in.cookies.push_back(f.value());
    for (const auto& f : boost::make_iterator_range(hdr.equal_range("X-Forwarded-For")))
        forwarded_for.append(forwarded_for.empty() ? "" : ",").append(f.value());
    in.forwarded_for = forwarded_for;
    in.origin = hdr[http::field::origin];
    in.forwarded_proto = hdr["X-Forwarded-Proto"];
    in.preflight = hdr.count(http::field::access_control_request_method) > 0;
    in.upgrade = beast::websocket::is_upgrade(hdr);
    in.content_length = content_length;
    in.remote_address = &remote;
    in.secure = secure;
    return in;
}

log::once_a_second refused_connections;

// One request's figures for its count and its access log line, kept while the request itself moves into its
// handler.
struct exchange_record {
    const http_metrics* metrics;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::uint64_t received = 0; // head and announced body
    bool health_check = false;
    std::string method;
    std::string target; // redacted; empty when the access log is off

    // Its route's count and latency, and the bytes (docs/api.md §16).
    void count(metrics::route_stats* stats, unsigned status, std::uint64_t sent) const {
        if (!metrics)
            return;
        if (!stats)
            stats = health_check ? metrics->health : metrics->unmatched;
        stats->record(status, std::chrono::steady_clock::now() - started);
        metrics->bytes_in->add(received);
        metrics->bytes_out->add(sent);
    }
    void log_access(unsigned status, std::uint64_t sent, std::string_view note) const {
        if (!log::enabled(log::level::info))
            return;
        auto ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        log::access("{} {} {} {} {:.1f}ms{}", method, target, status, sent, ms, note);
    }
};

// What a connection keeps across its requests.
struct connection_state {
    session_env& env;
    byte_stream& stream;
    connection_handle& conn;
    const std::string& remote;
    bool secure;
    beast::flat_buffer buffer; // bytes read and not yet used: the next request's, when pipelined
};

// After a request: read the next one, close the connection in order (TLS close_notify, then FIN), or drop
// it (it was reset, or a WebSocket or the front door took it over).
enum class next_step { read_next, close, drop };

// The front door answers (or tunnels) a request itself; the session only keeps the connection's fate.
asio::awaitable<next_step> pass_to_front_door(connection_state& c,
                                              http::request_parser<http::string_body>& parser,
                                              const dispatch_result& d, const dispatch_input& in,
                                              bool keep_alive, const exchange_record& record) {
    const bool trusted = auth::is_trusted(c.remote, c.env.front.cfg.trusted_proxies);
    const bool seen_secure = c.secure || (trusted && text::iequals(in.forwarded_proto, "https"));
    const bool head_only = parser.get().method() == http::verb::head;
    const unsigned version = parser.get().version();
    http::request_parser<http::buffer_body> pass_parser(std::move(parser));
    pass_exchange x{c.stream, c.buffer, pass_parser, c.conn,     *d.pass,  d.req.remote_address,
                    c.remote, trusted,  seen_secure, keep_alive, d.headers};
    pass_result passed = co_await c.env.front.door->pass(x);
    pass_outcome outcome = passed.outcome;
    if (passed.answer) {
        x.status = passed.answer->status;
        const bool go_on = outcome == pass_outcome::keep_alive && pass_parser.is_done();
        const bool written = co_await write_response(c.stream, c.conn, *passed.answer, go_on, head_only,
                                                     d.headers, x.bytes, version);
        if (!written)
            outcome = pass_outcome::reset;
        else if (!go_on)
            outcome = pass_outcome::close;
    }
    record.count(c.env.metrics ? c.env.metrics->proxied : nullptr, x.status, x.bytes);
    record.log_access(x.status, x.bytes, " proxied");
    switch (outcome) {
    case pass_outcome::reset:
        c.stream.reset();
        co_return next_step::drop;
    case pass_outcome::taken:
        co_return next_step::drop;
    case pass_outcome::close:
        co_return next_step::close;
    default:
        co_return next_step::read_next;
    }
}

// A route of ours answers: its body read whole (up to the route's limit) or streamed to the handler, or the
// connection handed to its WebSocket handler.
asio::awaitable<next_step> answer_route(connection_state& c, http::request_parser<http::string_body>& parser,
                                        dispatch_result& d, bool keep_alive, const exchange_record& record) {
    const bool head_only = parser.get().method() == http::verb::head;
    const unsigned version = parser.get().version();
    response res;
    // A WebSocket route may refuse the upgrade with an ordinary answer (docs/api.md §17: 404, 429).
    std::optional<response> refusal;
    if (!d.immediate && d.target->ws_handler && d.target->ws_check)
        refusal = co_await call_check(*d.target, d.req);
    if (d.immediate) {
        res = std::move(*d.immediate);
        // A body we chose not to read leaves the stream out of step: close after answering.
        if (!parser.is_done())
            keep_alive = false;
    } else if (refusal) {
        res = std::move(*refusal);
        keep_alive = false; // the client expected the connection to change hands
    } else if (d.target->ws_handler) {
        log::access("{} {} 101 websocket", record.method, record.target);
        record.count(d.target->stats, 101, 0);
        http::request<http::string_body> upgrade_req = parser.release();
        std::string leftover(static_cast<const char*>(c.buffer.data().data()), c.buffer.size());
        metrics::held open(c.env.metrics ? c.env.metrics->websockets : nullptr);
        co_await run_websocket(std::move(c.stream), *d.target, std::move(d.req), std::move(upgrade_req),
                               c.conn, d.headers, std::move(leftover));
        co_return next_step::drop;
    } else if (d.target->options.stream_body) {
        if (!parser.is_done())
            co_await send_continue_if_expected(c.stream, c.conn, parser.get().base());
        http::request_parser<http::buffer_body> body_parser(std::move(parser));
        body_parser.body_limit(d.target->options.body_limit);
        streaming_body_reader reader(c.stream, c.conn, c.buffer, body_parser,
                                     d.target->options.too_large_message);
        d.req.body_stream = &reader;
        d.req.fields = &body_parser.get().base();
        d.req.target = body_parser.get().target();
        // A handler may run long (an exec, up to 10 min); the response write sets the next deadline.
        c.conn.expire_never();
        res = co_await call_handler(*d.target, d.req);
        // Whatever the handler left unread cannot be skipped reliably: close after answering.
        if (!body_parser.is_done())
            keep_alive = false;
    } else {
        bool body_ok = true;
        if (!parser.is_done()) {
            co_await send_continue_if_expected(c.stream, c.conn, parser.get().base());
            parser.body_limit(d.target->options.body_limit);
            c.conn.expire_after(io_timeout);
            auto [bec, bn] = co_await http::async_read(c.stream, c.buffer, parser, use_tuple);
            if (bec == http::error::body_limit) {
                const auto& o = d.target->options;
                res =
                    error_response(o.too_large_is_bad_input ? error_kind::bad_request : error_kind::too_large,
                                   o.too_large_message);
                keep_alive = false;
                body_ok = false;
            } else if (bec) {
                if (quiet_end(bec))
                    co_return next_step::close;
                res = error_response(error_kind::bad_request, "Bad request: " + bec.message());
                keep_alive = false;
                body_ok = false;
            }
        }
        if (body_ok) {
            d.req.body = std::move(parser.get().body());
            d.req.fields = &parser.get().base();
            // A handler may run long (an exec, up to 10 min); the response write sets the next deadline.
            c.conn.expire_never();
            res = co_await call_handler(*d.target, d.req);
        }
    }

    std::uint64_t bytes = 0;
    unsigned status = res.status;
    bool ok =
        co_await write_response(c.stream, c.conn, res, keep_alive, head_only, d.headers, bytes, version);
    record.count(d.target ? d.target->stats : nullptr, status, bytes);
    record.log_access(status, bytes, "");
    if (!ok) {
        // A response cut short (its producer failed, the file shrank, the client stalled) ends with a reset,
        // never with what a client could take for a complete body.
        c.stream.reset();
        co_return next_step::drop;
    }
    co_return keep_alive ? next_step::read_next : next_step::close;
}

// A lingering close (docs/api.md §5). After an answer that did not wait for the whole request (a 413, a 502
// for a service that went mid-body) the client may still be sending; closing with its bytes unread makes the
// kernel reset the connection, and the reset can destroy the answer before the client reads it. So what it
// sends after our FIN is read and dropped until it closes, for at most linger_time (the connection's
// deadline, set by the caller) and linger_bytes.
asio::awaitable<void> linger(byte_stream& stream) {
    thread_local std::array<char, 16 * 1024> dropped; // never read back: sessions of a thread may share it
    for (std::size_t total = 0; total < linger_bytes;) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(dropped), use_tuple);
        if (ec)
            break;
        total += n;
    }
}

// A connection's life: its requests one after another, each read (read_request_head), dispatched, then
// passed to the front door or answered by a route, until one of them ends the connection.
asio::awaitable<void> run_session(session_env& env, byte_stream stream, std::string remote, bool loopback) {
    // One client address holds a bounded number of connections; past that it is closed unanswered.
    auto slot = env.limiter ? env.limiter->acquire(remote) : connection_limiter::slot{};
    if (env.limiter && !slot) {
        log::warn_rarely(refused_connections, "connection from {} closed: it holds the most it may", remote);
        co_return;
    }
    connection_guard guard(env.owner);
    connection_handle& conn = guard.handle;
    conn.cancel = [&stream] { stream.cancel(); };
    connection_state c{env, stream, conn, remote, stream.secure(), {}};

    conn.expire_after(header_timeout);
    auto [handshake_ec] = co_await stream.async_handshake(use_tuple);
    if (handshake_ec) {
        log::debug("TLS handshake from {} failed: {}", remote, handshake_ec.message());
        co_return;
    }

    head_deadline due{std::chrono::steady_clock::now() + header_timeout};
    next_step step = next_step::read_next;
    while (step == next_step::read_next) {
        if (c.buffer.size() == 0 && env.owner.stopping)
            break;
        http::request_parser<http::string_body> parser;
        auto head_size = co_await read_request_head(stream, conn, c.buffer, parser, due);
        if (!head_size)
            break;
        const auto& hdr = parser.get();
        const bool keep_alive = hdr.keep_alive() && !env.owner.stopping;

        exchange_record record{env.metrics};
        std::string forwarded_for;
        std::optional<std::uint64_t> content_length;
        if (auto cl = parser.content_length())
            content_length = *cl;
        dispatch_input in = input_of(hdr.base(), remote, c.secure, content_length, forwarded_for);
        in.loopback = loopback;
        in.has_body = content_length.value_or(0) > 0 || parser.chunked();
        dispatch_result d = dispatch(in, env.routes, env.front);
        // Decided and copied now: the request moves into its handler, the parser's storage with the body.
        record.received = *head_size + content_length.value_or(0);
        record.health_check = env.metrics && d.req.path == "/healthz";
        record.method = hdr.method_string();
        if (log::enabled(log::level::info))
            record.target = text::redact_target(hdr.target(), env.front.tokens.current());

        if (d.pass)
            step = co_await pass_to_front_door(c, parser, d, in, keep_alive, record);
        else
            step = co_await answer_route(c, parser, d, keep_alive, record);
    }
    if (step == next_step::drop)
        co_return;

    // Orderly close: TLS close_notify, then FIN.
    conn.expire_after(linger_time);
    co_await stream.async_shutdown(use_tuple);
    if (!stream.secure() && !env.owner.stopping)
        co_await linger(stream);
}

} // namespace

void start_session(session_env& env, byte_stream stream, std::string remote, bool loopback) {
    auto ex = stream.get_executor();
    asio::co_spawn(ex, run_session(env, std::move(stream), std::move(remote), loopback),
                   [](const std::exception_ptr& e) {
                       if (!e)
                           return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           log::error("connection ended with an error: {}", ex.what());
                       }
                   });
}

void start_session(session_env& env, asio::ip::tcp::socket socket) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    std::string remote = ec ? "unknown" : ep.address().to_string();
    auto local = socket.local_endpoint(ec).address();
    // A dual-stack listener sees 127.0.0.1 as ::ffff:127.0.0.1.
    if (local.is_v6() && local.to_v6().is_v4_mapped())
        local = asio::ip::make_address_v4(asio::ip::v4_mapped, local.to_v6());
    const bool loopback = !ec && local.is_loopback();
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    auto t = env.tls ? tls_transport(std::move(socket), *env.tls) : plain_transport(std::move(socket));
    start_session(env, byte_stream(std::move(t)), std::move(remote), loopback);
}

void start_session(session_env& env, asio::local::stream_protocol::socket socket) {
    auto t = env.tls ? tls_transport(std::move(socket), *env.tls) : plain_transport(std::move(socket));
    // Only this host can reach a unix socket: it is as local as loopback (GET /metrics, docs/api.md §3).
    start_session(env, byte_stream(std::move(t)), "unix", true);
}

} // namespace ag
