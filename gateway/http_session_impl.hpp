#pragma once
// Internal to gateway/: the session coroutine for any transport. Included once per transport .cpp, so each
// transport compiles in its own translation unit (in parallel) instead of one 4-minute file.
#include "gateway/http_session.hpp"

#include "auth/token_store.hpp"
#include "gateway/connection_limiter.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "gateway/services.hpp"
#include "gateway/websocket_session.hpp"
#include "gateway/worker.hpp"
#include "util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/range/iterator_range_core.hpp>

#include <sys/sendfile.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <type_traits>

namespace ag {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace session_detail {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto header_timeout = 10s;
constexpr auto idle_timeout = 60s;
constexpr auto io_timeout = 60s; // a body read or response write that makes no progress for this long ends
constexpr std::size_t header_limit = 16 * 1024;

using unix_stream = beast::basic_stream<asio::local::stream_protocol>;

template <class Stream>
constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream> && !std::is_same_v<Stream, unix_stream>;

inline method to_method(http::verb v) {
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

inline bool quiet_end(const boost::system::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::operation_aborted || ec == beast::error::timeout ||
           ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated ||
           ec == http::error::partial_message;
}

template <class Stream> auto& lowest(Stream& s) {
    return beast::get_lowest_layer(s);
}

template <class Stream> class websocket_impl final : public websocket_connection {
public:
    explicit websocket_impl(Stream&& s)
        : ws_(std::move(s)) {}
    websocket::stream<Stream>& ws() { return ws_; }

    asio::awaitable<boost::system::error_code> send_text(std::string_view message) override {
        ws_.text(true);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(message.data(), message.size()), use_tuple);
        co_return ec;
    }
    asio::awaitable<std::pair<boost::system::error_code, std::string>> read_message() override {
        beast::flat_buffer buf;
        auto [ec, n] = co_await ws_.async_read(buf, use_tuple);
        co_return std::make_pair(ec, beast::buffers_to_string(buf.data()));
    }
    asio::awaitable<void> close(std::uint16_t code, std::string_view reason) override {
        websocket::close_reason cr(code);
        cr.reason.assign(reason.data(), std::min<std::size_t>(reason.size(), 120));
        co_await ws_.async_close(cr, use_tuple);
    }
    asio::awaitable<boost::system::error_code> write_raw(std::string_view bytes) override {
        raw_ = true;
        auto [ec, n] =
            co_await asio::async_write(ws_.next_layer(), asio::buffer(bytes.data(), bytes.size()), use_tuple);
        co_return ec;
    }
    asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_raw(char* data,
                                                                                std::size_t size) override {
        raw_ = true;
        if (!pending_.empty()) {
            // Bytes the client sent right behind its upgrade request, read with the request's header.
            std::size_t n = std::min(size, pending_.size());
            std::memcpy(data, pending_.data(), n);
            pending_.erase(0, n);
            co_return std::make_pair(boost::system::error_code{}, n);
        }
        auto [ec, n] = co_await ws_.next_layer().async_read_some(asio::buffer(data, size), use_tuple);
        co_return std::make_pair(ec, n);
    }
    void abort() override { lowest(ws_).cancel(); }
    bool raw() const { return raw_; }
    void set_pending(std::string bytes) { pending_ = std::move(bytes); }

private:
    websocket::stream<Stream> ws_;
    bool raw_ = false;
    std::string pending_;
};

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
};

template <class Stream, class Body>
void apply_headers(http::response<Body>& r, const response& res,
                   const std::vector<std::pair<std::string, std::string>>& extra) {
    if (!res.content_type.empty())
        r.set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers)
        r.insert(k, v);
    for (const auto& [k, v] : extra)
        r.insert(k, v);
}

// Sends `length` bytes of `fd` from `offset`. Plain sockets use sendfile; TLS reads and writes in chunks.
template <class Stream>
asio::awaitable<bool> send_file(Stream& stream, connection_handle& conn, const file_range& file) {
    std::uint64_t remaining = file.length;
    off_t offset = static_cast<off_t>(file.offset);
    if constexpr (!is_tls<Stream>) {
        auto& sock = stream.socket();
        boost::system::error_code ec;
        sock.native_non_blocking(true, ec);
        asio::steady_timer timer(stream.get_executor());
        while (remaining > 0) {
            ssize_t n = ::sendfile(sock.native_handle(), file.fd, &offset,
                                   static_cast<std::size_t>(std::min<std::uint64_t>(remaining, 1 << 30)));
            if (n > 0) {
                remaining -= static_cast<std::uint64_t>(n);
                continue;
            }
            if (n == 0)
                co_return false; // the file shrank under us; the promised length cannot be met
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                co_return false;
            timer.expires_after(io_timeout);
            auto which = co_await (sock.async_wait(asio::socket_base::wait_write, use_tuple) ||
                                   timer.async_wait(use_tuple));
            if (which.index() == 1)
                co_return false;
            auto [wec] = std::get<0>(which);
            if (wec)
                co_return false;
        }
        co_return true;
    } else {
        std::string chunk;
        while (remaining > 0) {
            chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(remaining, 256 * 1024)));
            ssize_t n = ::pread(file.fd, chunk.data(), chunk.size(), offset);
            if (n <= 0)
                co_return false;
            offset += n;
            remaining -= static_cast<std::uint64_t>(n);
            conn.expire_after(io_timeout);
            auto [ec, w] = co_await asio::async_write(
                stream, asio::buffer(chunk.data(), static_cast<std::size_t>(n)), use_tuple);
            if (ec)
                co_return false;
        }
        co_return true;
    }
}

// Clients that send Expect: 100-continue (curl, for bodies over 1 MiB) wait for this before sending the body.
template <class Stream, class Header>
asio::awaitable<void> send_continue_if_expected(Stream& stream, connection_handle& conn, const Header& hdr) {
    if (!text::iequals(hdr[http::field::expect], "100-continue"))
        co_return;
    http::response<http::empty_body> cont{http::status::continue_, 11};
    conn.expire_after(io_timeout);
    co_await http::async_write(stream, cont, use_tuple);
}

// Framing the parser accepts but a proxy in front of us may read differently (request smuggling): a folded
// header line. `raw` is the header block up to and including the blank line.
inline std::string framing_problem_in_raw(std::string_view raw) {
    auto first_line = raw.find("\r\n");
    for (auto at = raw.find("\r\n", first_line + 2); at != std::string_view::npos && at + 2 < raw.size();
         at = raw.find("\r\n", at + 2))
        if (raw[at + 2] == ' ' || raw[at + 2] == '\t')
            return "Bad request: folded header line (obs-fold)";
    return {};
}

// After parsing: chunked is the only transfer coding, alone and never with a Content-Length; HTTP/1.1 names
// its Host once.
template <class Header> std::string framing_problem(const Header& hdr) {
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

// The target as the access log shows it: no token in it, whatever the key.
inline std::string redacted(session_env& env, std::string_view target) {
    return text::redact_target(target, env.svc.tokens.current());
}

// The handler's answer, or the error it threw mapped to status and JSON (docs/api.md §5).
inline asio::awaitable<response> call_handler(const route& r, request& req) {
    try {
        co_return co_await r.handler(req);
    } catch (const api_error& e) {
        response res = error_response(status_of(e.kind), e.what());
        res.headers = e.headers;
        co_return res;
    } catch (const std::exception& e) {
        log::error("{} {}: {}", method_name(req.verb), text::redact_target(req.target, req.auth_token),
                   e.what());
        co_return error_response(500, "Internal error");
    }
}

template <class Stream> class streaming_body_reader final : public body_reader {
public:
    streaming_body_reader(Stream& s, connection_handle& conn, beast::flat_buffer& b,
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
    Stream& stream_;
    connection_handle& conn_;
    beast::flat_buffer& buffer_;
    http::request_parser<http::buffer_body>& parser_;
    std::string too_large_;
};

template <class Stream> class chunked_writer final : public body_writer {
public:
    chunked_writer(Stream& s, connection_handle& conn)
        : stream_(s)
        , conn_(conn) {}
    asio::awaitable<bool> write(std::string_view data) override {
        if (!ok_ || data.empty())
            co_return ok_;
        conn_.expire_after(io_timeout);
        auto [ec, n] = co_await asio::async_write(
            stream_, http::make_chunk(asio::const_buffer(data.data(), data.size())), use_tuple);
        ok_ = !ec;
        bytes_ += data.size();
        co_return ok_;
    }
    asio::awaitable<bool> finish() {
        if (!ok_)
            co_return false;
        auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), use_tuple);
        co_return !ec;
    }
    std::uint64_t bytes() const { return bytes_; }

private:
    Stream& stream_;
    connection_handle& conn_;
    bool ok_ = true;
    std::uint64_t bytes_ = 0;
};

template <class Stream>
asio::awaitable<bool> write_response(Stream& stream, connection_handle& conn, response& res, bool keep_alive,
                                     bool head_only,
                                     const std::vector<std::pair<std::string, std::string>>& extra,
                                     std::uint64_t& bytes, unsigned version = 11) {
    conn.expire_after(io_timeout);
    if (res.stream) {
        http::response<http::empty_body> r{static_cast<http::status>(res.status), 11};
        apply_headers<Stream>(r, res, extra);
        r.chunked(true);
        r.keep_alive(keep_alive);
        http::response_serializer<http::empty_body> sr(r);
        auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
        if (ec)
            co_return false;
        if (head_only)
            co_return true;
        chunked_writer<Stream> writer(stream, conn);
        try {
            co_await res.stream(writer);
        } catch (const std::exception& e) {
            // The status line is gone already; all that is left is to cut the response short.
            log::error("streamed response failed: {}", e.what());
            co_return false;
        }
        bytes = writer.bytes();
        co_return co_await writer.finish();
    }
    if (res.file || head_only || res.status == 204 || res.status == 304) {
        http::response<http::empty_body> r{static_cast<http::status>(res.status), 11};
        apply_headers<Stream>(r, res, extra);
        if (res.status != 204 && res.status != 304)
            r.content_length(res.file ? res.file->length : res.body.size());
        r.keep_alive(keep_alive);
        http::response_serializer<http::empty_body> sr(r);
        auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
        if (ec)
            co_return false;
        if (res.file && !head_only) {
            bytes = res.file->length;
            co_return co_await send_file(stream, conn, *res.file);
        }
        co_return true;
    }
    // Small bodies (every JSON answer) go out as one buffer we format ourselves: Beast's fields and
    // serializer cost more than the rest of the request (measured).
    std::string wire;
    wire.reserve(160 + res.body.size());
    auto reason = http::obsolete_reason(static_cast<http::status>(res.status));
    wire.append("HTTP/1.1 ")
        .append(std::to_string(res.status))
        .append(" ")
        .append(reason.data(), reason.size());
    auto header = [&wire](std::string_view name, std::string_view value) {
        // Values come from our own code, but never let a CR or LF split the header block.
        if (value.find_first_of("\r\n") != std::string_view::npos)
            return;
        wire.append("\r\n").append(name).append(": ").append(value);
    };
    if (!res.content_type.empty())
        header("Content-Type", res.content_type);
    for (const auto& [k, v] : res.headers)
        header(k, v);
    for (const auto& [k, v] : extra)
        header(k, v);
    header("Content-Length", std::to_string(res.body.size()));
    if (!keep_alive)
        header("Connection", "close");
    else if (version == 10)
        header("Connection", "keep-alive");
    wire.append("\r\n\r\n");
    wire.append(res.body);
    bytes = res.body.size();
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(wire), use_tuple);
    co_return !ec;
}

template <class Stream>
asio::awaitable<void> run_websocket(Stream stream, const route& r, request req,
                                    http::request<http::string_body> upgrade_req, connection_guard& guard,
                                    const std::vector<std::pair<std::string, std::string>>& extra,
                                    std::string leftover) {
    websocket_impl<Stream> conn(std::move(stream));
    conn.set_pending(std::move(leftover));
    auto& ws = conn.ws();
    // What dispatch adds to every answer (the gw_token cookie for ?token=, CORS) goes on the 101 too.
    ws.set_option(websocket::stream_base::decorator([extra](websocket::response_type& res) {
        for (const auto& [k, v] : extra)
            res.insert(k, v);
    }));
    lowest(ws).expires_never();
    guard.handle.expire_never(); // the WebSocket keeps its own timeouts and pings
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(1024 * 1024);
    // At shutdown an open WebSocket is cancelled at once like an idle connection; it has no response to
    // finish.
    guard.handle.cancel = [&conn] {
        if (conn.on_shutdown)
            conn.on_shutdown();
        else
            conn.abort();
    };
    guard.handle.idle = true;
    auto [ec] = co_await ws.async_accept(upgrade_req, use_tuple);
    if (ec)
        co_return;
    req.fields_ = &upgrade_req;
    try {
        co_await r.ws_handler(conn, req);
    } catch (const std::exception& e) {
        log::error("websocket {}: {}", req.path, e.what());
    }
    if (!conn.raw() && ws.is_open())
        co_await conn.close(websocket::close_code::going_away, "");
}

inline log::once_a_second refused_connections;

template <class Stream>
asio::awaitable<void> run_session(session_env& env, Stream stream, std::string remote, bool secure) {
    // One client address holds a bounded number of connections; past that it is closed unanswered.
    auto slot = env.limiter ? env.limiter->acquire(remote) : connection_limiter::slot{};
    if (env.limiter && !slot) {
        log::warn_rarely(refused_connections, "connection from {} closed: it holds the most it may", remote);
        co_return;
    }
    connection_guard guard(env.owner);
    connection_handle& conn = guard.handle;
    conn.cancel = [&stream] { lowest(stream).cancel(); };

    if constexpr (is_tls<Stream>) {
        conn.expire_after(header_timeout);
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (ec) {
            log::debug("TLS handshake from {} failed: {}", remote, ec.message());
            co_return;
        }
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
            guard.handle.idle = true;
            if (first_request)
                conn.deadline = header_deadline;
            else
                conn.expire_after(idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            guard.handle.idle = false;
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
                framing_error = framing_problem(parser.get());
        }
        if (hec || !framing_error.empty()) {
            if (!framing_error.empty() || !quiet_end(hec)) {
                std::string msg = !framing_error.empty() ? framing_error : "Bad request: " + hec.message();
                response bad = error_response(400, msg);
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

        dispatch_input in;
        in.verb = to_method(hdr.method());
        in.target = hdr.target();
        in.host = hdr[http::field::host];
        for (const auto& f : boost::make_iterator_range(hdr.equal_range(http::field::authorization)))
            in.authorizations.push_back(f.value());
        for (const auto& f : boost::make_iterator_range(hdr.equal_range(http::field::cookie)))
            in.cookies.push_back(f.value());
        std::string forwarded_for;
        for (const auto& f : boost::make_iterator_range(hdr.equal_range("X-Forwarded-For")))
            forwarded_for.append(forwarded_for.empty() ? "" : ",").append(f.value());
        in.forwarded_for = forwarded_for;
        in.origin = hdr[http::field::origin];
        in.forwarded_proto = hdr["X-Forwarded-Proto"];
        in.preflight = hdr.count(http::field::access_control_request_method) > 0;
        in.upgrade = websocket::is_upgrade(hdr);
        if (auto cl = parser.content_length())
            in.content_length = *cl;
        in.remote_address = &remote;
        in.secure = secure;
        dispatch_result d = dispatch(in, env.routes, env.svc);
        // Copies: the parser's storage moves when a streaming route takes the body over.
        std::string log_target = log::enabled(log::level::info) ? redacted(env, hdr.target()) : std::string{};
        std::string log_method(hdr.method_string());

        response res;
        if (d.immediate) {
            res = std::move(*d.immediate);
            // A body we chose not to read leaves the stream out of step: close after answering.
            if (!parser.is_done())
                keep_alive = false;
        } else if (d.target->ws_handler) {
            log::access("{} {} 101 websocket", log_method, log_target);
            http::request<http::string_body> upgrade_req = parser.release();
            std::string leftover(static_cast<const char*>(buffer.data().data()), buffer.size());
            co_await run_websocket(std::move(stream), *d.target, std::move(d.req), std::move(upgrade_req),
                                   guard, d.headers, std::move(leftover));
            co_return;
        } else if (d.target->options.stream_body) {
            if (!parser.is_done())
                co_await send_continue_if_expected(stream, conn, hdr);
            http::request_parser<http::buffer_body> body_parser(std::move(parser));
            body_parser.body_limit(d.target->options.body_limit);
            streaming_body_reader<Stream> reader(stream, conn, buffer, body_parser,
                                                 d.target->options.too_large_message);
            d.req.body_stream = &reader;
            d.req.fields_ = &body_parser.get().base();
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
                co_await send_continue_if_expected(stream, conn, hdr);
                parser.body_limit(d.target->options.body_limit);
                conn.expire_after(io_timeout);
                auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
                if (bec == http::error::body_limit) {
                    res = error_response(413, d.target->options.too_large_message);
                    keep_alive = false;
                    body_ok = false;
                } else if (bec) {
                    if (!quiet_end(bec)) {
                        res = error_response(400, "Bad request: " + bec.message());
                        keep_alive = false;
                        body_ok = false;
                    } else {
                        break;
                    }
                }
            }
            if (body_ok) {
                d.req.body = std::move(parser.get().body());
                d.req.fields_ = &parser.get().base();
                // A handler may run long (an exec, up to 10 min); the response write sets the next deadline.
                conn.expire_never();
                res = co_await call_handler(*d.target, d.req);
            }
        }

        std::uint64_t bytes = 0;
        unsigned status = res.status;
        bool ok =
            co_await write_response(stream, conn, res, keep_alive, head_only, d.headers, bytes, version);
        if (log::enabled(log::level::info)) {
            auto ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
            log::access("{} {} {} {} {:.1f}ms", log_method, log_target, status, bytes, ms);
        }
        if (!ok) {
            // A response cut short (its producer failed, the file shrank, the client stalled) ends with a
            // reset, never with what a client could take for a complete body.
            boost::system::error_code ec;
            lowest(stream).socket().set_option(asio::socket_base::linger(true, 0), ec);
            lowest(stream).socket().close(ec);
            co_return;
        }
        if (!keep_alive)
            break;
    }

    // Orderly close: TLS close_notify, then FIN.
    if constexpr (is_tls<Stream>) {
        conn.expire_after(2s);
        co_await stream.async_shutdown(use_tuple);
    } else {
        boost::system::error_code ec;
        stream.socket().shutdown(asio::socket_base::shutdown_send, ec);
    }
}

template <class Stream> void spawn(session_env& env, Stream&& stream, std::string remote, bool secure) {
    asio::co_spawn(env.owner.ioc, run_session(env, std::move(stream), std::move(remote), secure),
                   [](std::exception_ptr e) {
                       if (!e)
                           return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           log::error("connection ended with an error: {}", ex.what());
                       }
                   });
}

} // namespace session_detail
} // namespace ag
