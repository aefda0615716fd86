#include "engine/log_pipe.hpp"

#include "engine/child_reaper.hpp"

#include "logs/decode.hpp"
#include "logs/hub.hpp"
#include "logs/line_splitter.hpp"
#include "runtime/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <system_error>

namespace ag::engine {
using namespace std::chrono_literals;

namespace {

constexpr auto partial_flush_after = 1s;
constexpr auto coalesce_for = 10ms;
constexpr std::size_t coalesce_below = 16 * 1024;

struct pipe_reader : std::enable_shared_from_this<pipe_reader> {
    pipe_reader(asio::io_context& ioc, int fd, logs::hub& h, std::string src)
        : pipe(ioc, fd)
        , flush_timer(ioc)
        , coalesce_timer(ioc)
        , hub(h)
        , source(std::move(src)) {}

    asio::posix::stream_descriptor pipe;
    asio::steady_timer flush_timer;
    asio::steady_timer coalesce_timer;
    logs::hub& hub;
    std::string source;
    logs::line_splitter lines;
    std::chrono::steady_clock::time_point partial_since{};
    bool timer_armed = false;

    // Lines of one read are published together: one lock, one journal write.
    std::vector<logs::decoded_line> decoded;
    void emit(std::string_view line) { decoded.push_back(logs::decode_line(line, source)); }
    void publish() {
        if (decoded.empty())
            return;
        hub.publish_batch(decoded);
        decoded.clear();
    }

    // A timer only while a partial line waits, so a quiet pipe costs nothing.
    void arm_flush() {
        if (timer_armed)
            return;
        timer_armed = true;
        flush_timer.expires_at(partial_since + partial_flush_after);
        flush_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            self->timer_armed = false;
            if (ec || !self->lines.has_partial())
                return;
            if (std::chrono::steady_clock::now() >= self->partial_since + partial_flush_after) {
                self->lines.flush([&](std::string_view l) { self->emit(l); });
                self->publish();
            } else
                self->arm_flush();
        });
    }

    static asio::awaitable<void> run(std::shared_ptr<pipe_reader> self) {
        std::string buf(64 * 1024, '\0');
        for (;;) {
            auto [ec, n] =
                co_await self->pipe.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
            if (ec)
                break; // EOF: every writer is gone
            bool had_partial = self->lines.has_partial();
            self->lines.feed(std::string_view(buf.data(), n), [&](std::string_view l) { self->emit(l); });
            self->publish();
            if (self->lines.has_partial()) {
                if (!had_partial)
                    self->partial_since = std::chrono::steady_clock::now();
                self->arm_flush();
            }
            if (n < coalesce_below) {
                // A trickle (a line per write): let 10 ms of lines gather before the next read,
                // so a steady 10,000 lines/s costs ~200 reads, journal writes and subscriber wake-ups a
                // second instead of 10,000. A line after a quiet spell is still read at once.
                self->coalesce_timer.expires_after(coalesce_for);
                co_await self->coalesce_timer.async_wait(asio::as_tuple(asio::use_awaitable));
            }
        }
        self->lines.flush([&](std::string_view l) { self->emit(l); });
        self->publish();
        self->flush_timer.cancel();
    }
};

} // namespace

int open_log_pipe(asio::io_context& ioc, logs::hub& hub, std::string source) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe");
    // A larger pipe absorbs bursts while the reader is busy (best effort: the system may cap it).
    ::fcntl(fds[0], F_SETPIPE_SZ, 1024 * 1024);
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    auto reader = std::make_shared<pipe_reader>(ioc, fds[0], hub, std::move(source));
    asio::co_spawn(ioc, pipe_reader::run(reader), asio::detached);
    return fds[1];
}

pid_t spawn_logged(asio::io_context& ioc, child_reaper& reaper, logs::hub& hub, const std::string& command,
                   const std::string& cwd, const std::vector<std::string>& env, std::string source,
                   std::function<void(int wait_status)> on_exit) {
    int out = open_log_pipe(ioc, hub, std::move(source));
    try {
        pid_t pid = reaper.spawn({command, cwd, env, -1, out, out}, std::move(on_exit));
        ::close(out); // the child has its copy; the reader sees EOF once every writer is gone
        return pid;
    } catch (...) {
        ::close(out);
        throw;
    }
}

} // namespace ag::engine
