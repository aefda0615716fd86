#include "gateway/session_parts.hpp"
#include "gateway/worker.hpp"
#include "runtime/net.hpp"
#include "util/log.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>

namespace ag::session_detail {
namespace {

void apply_headers(http::response<http::empty_body>& r, const response& res, const header_list& extra) {
    if (!res.content_type.empty())
        r.set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers)
        r.insert(k, v);
    for (const auto& [k, v] : extra)
        r.insert(k, v);
}

// Sends `length` bytes of `fd` from `offset`: sendfile into the socket where there is one, else reads and
// writes through the stream (TLS). A stalled client meets the connection's deadline.
asio::awaitable<bool> send_file(byte_stream& stream, connection_handle& conn, const file_range& file) {
    std::uint64_t remaining = file.length;
    auto offset = static_cast<off_t>(file.offset);
    if (int sock = stream.sendfile_fd(); sock >= 0) {
        while (remaining > 0) {
            ssize_t n = ::sendfile(sock, file.fd, &offset,
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
            conn.expire_after(io_timeout);
            auto [ec] = co_await stream.async_wait_writable(use_tuple);
            if (ec)
                co_return false;
        }
        co_return true;
    }
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

class chunked_writer final : public body_writer {
public:
    chunked_writer(byte_stream& s, connection_handle& conn)
        : stream_(s)
        , conn_(conn)
        , timer_(s.get_executor()) {}
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
        conn_.expire_after(io_timeout);
        auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), use_tuple);
        co_return !ec;
    }
    std::uint64_t bytes() const { return bytes_; }

    void wake() override {
        woken_ = true;
        timer_.cancel();
    }

    asio::awaitable<bool> idle() override {
        watch_peer();
        // Idle like a connection between requests: no deadline, and a shutdown cancels it at once.
        conn_.expire_never();
        conn_.idle = true;
        while (!woken_ && !gone_) {
            timer_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await timer_.async_wait(use_tuple);
        }
        conn_.idle = false;
        woken_ = false;
        if (gone_)
            ok_ = false;
        co_return ok_;
    }

    // Ends the watch on the peer before the connection goes on (its next request, or its end).
    asio::awaitable<void> settle() {
        if (!reading_)
            co_return;
        settling_ = true;
        stream_.cancel();
        while (reading_) {
            timer_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await timer_.async_wait(use_tuple);
        }
    }

private:
    // One read of a byte, outstanding beside the writes: it ends when the client closes (or the daemon's
    // shutdown cancels the idle connection). A byte of a pipelined request is put back for the next read.
    void watch_peer() {
        if (watching_)
            return;
        watching_ = true;
        reading_ = true;
        stream_.async_read_some(asio::buffer(&peek_, 1), [this](boost::system::error_code ec, std::size_t n) {
            reading_ = false;
            if (!ec && n == 1)
                stream_.unread(std::string_view(&peek_, 1));
            else if (!settling_)
                gone_ = true;
            timer_.cancel();
        });
    }

    byte_stream& stream_;
    connection_handle& conn_;
    asio::steady_timer timer_;
    bool ok_ = true;
    bool woken_ = false;
    bool watching_ = false;
    bool reading_ = false;
    bool settling_ = false;
    bool gone_ = false;
    char peek_ = 0;
    std::uint64_t bytes_ = 0;
};

asio::awaitable<bool> write_header(byte_stream& stream, http::response<http::empty_body>& r) {
    http::response_serializer<http::empty_body> sr(r);
    auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
    co_return !ec;
}

} // namespace

asio::awaitable<bool> write_response(byte_stream& stream, connection_handle& conn, response& res,
                                     bool keep_alive, bool head_only, const header_list& extra,
                                     std::uint64_t& bytes, unsigned version) {
    conn.expire_after(io_timeout);
    if (res.stream) {
        http::response<http::empty_body> r{static_cast<http::status>(res.status), 11};
        apply_headers(r, res, extra);
        r.chunked(true);
        r.keep_alive(keep_alive);
        bool header_sent = co_await write_header(stream, r);
        if (!header_sent)
            co_return false;
        if (head_only)
            co_return true;
        chunked_writer writer(stream, conn);
        bool produced = true;
        try {
            co_await res.stream(writer);
        } catch (const std::exception& e) {
            // The status line is gone already; all that is left is to cut the response short.
            log::error("streamed response failed: {}", e.what());
            produced = false;
        }
        co_await writer.settle();
        if (!produced)
            co_return false;
        bytes = writer.bytes();
        co_return co_await writer.finish();
    }
    if (res.file || head_only || res.status == 204 || res.status == 304) {
        http::response<http::empty_body> r{static_cast<http::status>(res.status), 11};
        apply_headers(r, res, extra);
        if (res.status != 204 && res.status != 304)
            r.content_length(res.file ? res.file->length : res.body.size());
        r.keep_alive(keep_alive);
        bool header_sent = co_await write_header(stream, r);
        if (!header_sent)
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

} // namespace ag::session_detail
