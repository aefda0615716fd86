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

#include <chrono>
#include <limits>

namespace ag {
namespace {

using namespace session_detail;

constexpr auto header_timeout = 10s;
constexpr auto idle_timeout = 60s;
constexpr std::size_t header_limit = 16 * 1024;

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

bool quiet_end(const boost::system::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::operation_aborted || ec == beast::error::timeout ||
           ec == asio::error::connection_reset || ec == http::error::partial_message;
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

// The handler's answer, or the error it threw mapped to status and JSON (docs/api.md §5).
asio::awaitable<response> call_handler(const route& r, request& req) {
    try {
        co_return co_await r.handler(req);
    } catch (const api_error& e) {
        if (!e.detail.empty())
            log::warn("{} {}: {} ({})", method_name(req.verb),
                      text::redact_target(req.target, req.auth_token), e.what(), e.detail);
        co_return error_response(e);
    } catch (const std::exception& e) {
        log::error("{} {}: {}", method_name(req.verb), text::redact_target(req.target, req.auth_token),
                   e.what());
        co_return error_response(error_kind::internal, "Internal error");
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

// Framing the parser accepts but a proxy in front of us may read differently (request smuggling): a folded
// header line. `raw` is the header block up to and including the blank line.
std::string framing_problem_in_raw(std::string_view raw) {
    auto first_line = raw.find("\r\n");
    for (auto at = raw.find("\r\n", first_line + 2); at != std::string_view::npos && at + 2 < raw.size();
         at = raw.find("\r\n", at + 2))
        if (raw[at + 2] == ' ' || raw[at + 2] == '\t')
            return "Bad request: folded header line (obs-fold)";
    return {};
}

// After parsing: chunked is the only transfer coding, alone and never with a Content-Length; HTTP/1.1 names
// its Host once.
std::string framing_problem(const http::request_header<>& hdr) {
    std::size_t te_count = 0;
    std::string_view te;
    for (const auto& f : boost::make_iterator_range(hdr.equal_range(http::field::transfer_encoding))) {
        ++te_count;
        te = f.value();
    }
    if (te_count > 0) {
        if (te_count > 1 || !text::iequals(text::trim(te), "chunked"))
            return "Bad request: unsupported Transfer-Encoding (only chunked)";
        if (hdr.count(http::field::content_length) > 0)
            return "Bad request: Content-Length with Transfer-Encoding";
    }
    const std::size_t hosts = hdr.count(http::field::host);
    if ((hdr.version() >= 11 && hosts == 0) || hosts > 1)
        return "Bad request: HTTP/1.1 needs exactly one Host header";
    return {};
}

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
    const bool secure = stream.secure();

    conn.expire_after(header_timeout);
    auto [handshake_ec] = co_await stream.async_handshake(use_tuple);
    if (handshake_ec) {
        log::debug("TLS handshake from {} failed: {}", remote, handshake_ec.message());
        co_return;
    }

    beast::flat_buffer buffer;
    // The first request's headers must be complete within 10 s of the connection opening, however slowly
    // they trickle in; a connection that sends nothing goes then too.
    auto header_deadline = std::chrono::steady_clock::now() + header_timeout;
    for (bool first_request = true;; first_request = false) {
        // Idle between requests: wait for the first byte with the keep-alive timeout; the server's shutdown
        // cancels connections in this state at once.
        if (buffer.size() == 0) {
            if (env.owner.stopping)
                break;
            if (buffer.capacity() > 16 * 1024)
                buffer.shrink_to_fit();
            conn.idle = true;
            if (first_request)
                conn.deadline = header_deadline;
            else
                conn.expire_after(idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            conn.idle = false;
            if (ec)
                break;
            buffer.commit(n);
        }
        if (!first_request)
            header_deadline = std::chrono::steady_clock::now() + header_timeout;

        // The whole header block is read before parsing, so the raw bytes can be checked for what the
        // parser would quietly accept (obs-fold).
        std::size_t header_end = std::string_view::npos;
        boost::system::error_code hec;
        for (;;) {
            auto data = std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
            header_end = data.find("\r\n\r\n");
            if (header_end != std::string_view::npos || data.size() > header_limit)
                break;
            conn.deadline = header_deadline;
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            if (ec) {
                hec = ec;
                break;
            }
            buffer.commit(n);
        }
        std::string framing_error;
        if (!hec && (header_end == std::string_view::npos || header_end + 4 > header_limit))
            framing_error = "Request headers too large";
        std::string_view raw_header;
        if (!hec && framing_error.empty()) {
            raw_header = std::string_view(static_cast<const char*>(buffer.data().data()), header_end + 4);
            framing_error = framing_problem_in_raw(raw_header);
        }

        http::request_parser<http::string_body> parser;
        parser.header_limit(header_limit);
        // The route decides the body limit once it is known; Beast's default (1 MB) would fire during the
        // header.
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        if (!hec && framing_error.empty()) {
            std::size_t used = parser.put(asio::buffer(raw_header.data(), raw_header.size()), hec);
            buffer.consume(used);
            if (!hec && !parser.is_header_done())
                hec = http::error::partial_message;
            if (!hec)
                framing_error = framing_problem(parser.get().base());
        }
        if (hec || !framing_error.empty()) {
            if (!framing_error.empty() || !quiet_end(hec)) {
                std::string msg = !framing_error.empty() ? framing_error : "Bad request: " + hec.message();
                response bad = error_response(error_kind::bad_request, msg);
                std::uint64_t bytes = 0;
                co_await write_response(stream, conn, bad, false, false, {}, bytes);
            }
            break;
        }
        auto started = std::chrono::steady_clock::now();
        auto& hdr = parser.get();
        bool keep_alive = hdr.keep_alive() && !env.owner.stopping;
        bool head_only = hdr.method() == http::verb::head;
        unsigned version = hdr.version();

        std::string forwarded_for;
        std::optional<std::uint64_t> content_length;
        if (auto cl = parser.content_length())
            content_length = *cl;
        dispatch_input in = input_of(hdr.base(), remote, secure, content_length, forwarded_for);
        in.loopback = loopback;
        in.has_body = content_length.value_or(0) > 0 || parser.chunked();
        const std::uint64_t received = header_end + 4 + content_length.value_or(0);
        dispatch_result d = dispatch(in, env.routes, env.front);
        // Decided now (the request moves into its handler), and only when it is counted.
        const bool health_check = env.metrics && d.req.path == "/healthz";
        // After each answer: its route's count and latency, and the bytes (docs/api.md §16).
        auto count = [&](metrics::route_stats* stats, unsigned status, std::uint64_t sent) {
            const http_metrics* m = env.metrics;
            if (!m)
                return;
            if (!stats)
                stats = health_check ? m->health : m->unmatched;
            stats->record(status, std::chrono::steady_clock::now() - started);
            m->bytes_in->add(received);
            m->bytes_out->add(sent);
        };
        // Copies: the parser's storage moves when a streaming route takes the body over.
        std::string log_target = log::enabled(log::level::info)
                                     ? text::redact_target(hdr.target(), env.front.tokens.current())
                                     : std::string{};
        std::string log_method(hdr.method_string());

        if (d.pass) {
            // The front door answers (or tunnels) itself; the session only keeps the connection's fate.
            const bool trusted = auth::is_trusted(remote, env.front.cfg.trusted_proxies);
            const bool seen_secure = secure || (trusted && text::iequals(in.forwarded_proto, "https"));
            http::request_parser<http::buffer_body> pass_parser(std::move(parser));
            pass_exchange x{stream, buffer,  pass_parser, conn,       *d.pass,  d.req.remote_address,
                            remote, trusted, seen_secure, keep_alive, d.headers};
            pass_result passed = co_await env.front.door->pass(x);
            pass_outcome outcome = passed.outcome;
            if (passed.answer) {
                x.status = passed.answer->status;
                const bool go_on = outcome == pass_outcome::keep_alive && pass_parser.is_done();
                const bool written = co_await write_response(stream, conn, *passed.answer, go_on, head_only,
                                                             d.headers, x.bytes, version);
                if (!written)
                    outcome = pass_outcome::reset;
                else if (!go_on)
                    outcome = pass_outcome::close;
            }
            count(env.metrics ? env.metrics->proxied : nullptr, x.status, x.bytes);
            if (log::enabled(log::level::info)) {
                auto ms =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                        .count();
                log::access("{} {} {} {} {:.1f}ms proxied", log_method, log_target, x.status, x.bytes, ms);
            }
            if (outcome == pass_outcome::reset)
                stream.reset();
            if (outcome == pass_outcome::reset || outcome == pass_outcome::taken)
                co_return;
            if (outcome == pass_outcome::close)
                break;
            continue;
        }

        response res;
        if (d.immediate) {
            res = std::move(*d.immediate);
            // A body we chose not to read leaves the stream out of step: close after answering.
            if (!parser.is_done())
                keep_alive = false;
        } else if (d.target->ws_handler) {
            log::access("{} {} 101 websocket", log_method, log_target);
            count(d.target->stats, 101, 0);
            http::request<http::string_body> upgrade_req = parser.release();
            std::string leftover(static_cast<const char*>(buffer.data().data()), buffer.size());
            metrics::held open(env.metrics ? env.metrics->websockets : nullptr);
            co_await run_websocket(std::move(stream), *d.target, std::move(d.req), std::move(upgrade_req),
                                   conn, d.headers, std::move(leftover));
            co_return;
        } else if (d.target->options.stream_body) {
            if (!parser.is_done())
                co_await send_continue_if_expected(stream, conn, hdr.base());
            http::request_parser<http::buffer_body> body_parser(std::move(parser));
            body_parser.body_limit(d.target->options.body_limit);
            streaming_body_reader reader(stream, conn, buffer, body_parser,
                                         d.target->options.too_large_message);
            d.req.body_stream = &reader;
            d.req.fields = &body_parser.get().base();
            d.req.target = body_parser.get().target();
            // A handler may run long (an exec, up to 10 min); the response write sets the next deadline.
            conn.expire_never();
            res = co_await call_handler(*d.target, d.req);
            // Whatever the handler left unread cannot be skipped reliably: close after answering.
            if (!body_parser.is_done())
                keep_alive = false;
        } else {
            bool body_ok = true;
            if (!parser.is_done()) {
                co_await send_continue_if_expected(stream, conn, hdr.base());
                parser.body_limit(d.target->options.body_limit);
                conn.expire_after(io_timeout);
                auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
                if (bec == http::error::body_limit) {
                    const auto& o = d.target->options;
                    res = error_response(o.too_large_is_bad_input ? error_kind::bad_request
                                                                  : error_kind::too_large,
                                         o.too_large_message);
                    keep_alive = false;
                    body_ok = false;
                } else if (bec) {
                    if (quiet_end(bec))
                        break;
                    res = error_response(error_kind::bad_request, "Bad request: " + bec.message());
                    keep_alive = false;
                    body_ok = false;
                }
            }
            if (body_ok) {
                d.req.body = std::move(parser.get().body());
                d.req.fields = &parser.get().base();
                // A handler may run long (an exec, up to 10 min); the response write sets the next deadline.
                conn.expire_never();
                res = co_await call_handler(*d.target, d.req);
            }
        }

        std::uint64_t bytes = 0;
        unsigned status = res.status;
        bool ok =
            co_await write_response(stream, conn, res, keep_alive, head_only, d.headers, bytes, version);
        count(d.target ? d.target->stats : nullptr, status, bytes);
        if (log::enabled(log::level::info)) {
            auto ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
            log::access("{} {} {} {} {:.1f}ms", log_method, log_target, status, bytes, ms);
        }
        if (!ok) {
            // A response cut short (its producer failed, the file shrank, the client stalled) ends with a
            // reset, never with what a client could take for a complete body.
            stream.reset();
            co_return;
        }
        if (!keep_alive)
            break;
    }

    // Orderly close: TLS close_notify, then FIN.
    conn.expire_after(2s);
    co_await stream.async_shutdown(use_tuple);
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
