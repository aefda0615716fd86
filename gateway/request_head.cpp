// The next request's head on a connection (gateway/session_parts.hpp): waited for, read whole, checked for
// framing a proxy in front of us could read differently (request smuggling), parsed.
#include "gateway/connection_handle.hpp"
#include "gateway/errors.hpp"
#include "gateway/session_parts.hpp"
#include "runtime/net.hpp"
#include "util/text.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/range/iterator_range_core.hpp>

#include <limits>

namespace ag::session_detail {
namespace {

// A folded header line. `raw` is the header block up to and including the blank line.
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

} // namespace

bool quiet_end(const boost::system::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::operation_aborted || ec == beast::error::timeout ||
           ec == asio::error::connection_reset || ec == http::error::partial_message;
}

asio::awaitable<std::optional<std::size_t>> read_request_head(byte_stream& stream, connection_handle& conn,
                                                              beast::flat_buffer& buffer,
                                                              http::request_parser<http::string_body>& parser,
                                                              head_deadline& deadline) {
    // Idle between requests: wait for the first byte with the keep-alive timeout; the server's shutdown
    // cancels connections in this state at once.
    // The wait holds no buffer: an idle connection costs its socket and this frame, not 4 KiB more.
    if (buffer.size() == 0) {
        buffer.shrink_to_fit();
        conn.idle = true;
        if (deadline.first_request)
            conn.deadline = deadline.at;
        else
            conn.expire_after(idle_timeout);
        auto [wait_ec] = co_await stream.async_wait_readable(use_tuple);
        std::size_t n = 0;
        if (!wait_ec) {
            auto [ec, got] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            wait_ec = ec;
            n = got;
        }
        conn.idle = false;
        if (wait_ec)
            co_return std::nullopt;
        buffer.commit(n);
    }
    // The first request's headers must be complete within 10 s of the connection opening, however slowly
    // they trickle in; a later one's within 10 s of its first byte.
    if (!deadline.first_request)
        deadline.at = std::chrono::steady_clock::now() + header_timeout;
    deadline.first_request = false;

    // The whole header block is read before parsing, so the raw bytes can be checked for what the parser
    // would quietly accept (obs-fold).
    std::size_t header_end = std::string_view::npos;
    boost::system::error_code hec;
    for (;;) {
        auto data = std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string_view::npos || data.size() > header_limit)
            break;
        conn.deadline = deadline.at;
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

    parser.header_limit(header_limit);
    // The route decides the body limit once it is known; Beast's default (1 MB) would fire during the header.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (!hec && framing_error.empty()) {
        std::size_t used = parser.put(asio::buffer(raw_header.data(), raw_header.size()), hec);
        buffer.consume(used);
        if (!hec && !parser.is_header_done())
            hec = http::error::partial_message;
        if (!hec)
            framing_error = framing_problem(parser.get().base());
    }
    if (!hec && framing_error.empty())
        co_return header_end + 4;
    if (!framing_error.empty() || !quiet_end(hec)) {
        std::string msg = !framing_error.empty() ? framing_error : "Bad request: " + hec.message();
        response bad = error_response(error_kind::bad_request, msg);
        std::uint64_t bytes = 0;
        co_await write_response(stream, conn, bad, false, false, {}, bytes);
    }
    co_return std::nullopt;
}

} // namespace ag::session_detail
