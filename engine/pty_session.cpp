#include "engine/pty_session.hpp"

#include "engine/child_reaper.hpp"
#include "runtime/net.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>
#include <random>
#include <system_error>

namespace ag::engine {

namespace {
using namespace std::chrono_literals;
constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::size_t max_pending_input = 1024 * 1024;
constexpr auto kill_grace = 2s;

std::string random_id() {
    static std::mutex mutex;
    static std::random_device device;
    std::lock_guard lock(mutex);
    std::uniform_int_distribution<std::uint64_t> dist;
    return fmt::format("{:016x}", dist(device));
}

void set_window(int fd, unsigned short cols, unsigned short rows) {
    winsize ws{};
    ws.ws_col = cols;
    ws.ws_row = rows;
    ::ioctl(fd, TIOCSWINSZ, &ws);
}
} // namespace

// ---- byte_ring

void byte_ring::append(std::string_view data) {
    if (data.size() > limit_) {
        // Only the last `limit_` bytes can be kept: skip the rest as if it had been overwritten.
        end_ += data.size() - limit_;
        data.remove_prefix(data.size() - limit_);
    }
    const std::uint64_t new_end = end_ + data.size();
    if (buf_.size() < limit_ && buf_.size() < new_end)
        buf_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(
            limit_, std::max<std::uint64_t>(new_end, std::uint64_t{buf_.size()} * 2))));
    auto at = static_cast<std::size_t>(end_ % limit_);
    std::size_t first = std::min(data.size(), limit_ - at);
    std::memcpy(buf_.data() + at, data.data(), first);
    if (first < data.size())
        std::memcpy(buf_.data(), data.data() + first, data.size() - first);
    end_ = new_end;
    if (end_ - start_ > limit_)
        start_ = end_ - limit_;
}

void byte_ring::copy(std::uint64_t from, std::size_t max, std::string& out) const {
    if (from < start_ || from >= end_)
        return;
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max, end_ - from));
    auto at = static_cast<std::size_t>(from % limit_);
    std::size_t first = std::min(n, limit_ - at);
    out.append(buf_.data() + at, first);
    if (first < n)
        out.append(buf_.data(), n - first);
}

// ---- pty_session

struct pty_session::io {
    explicit io(asio::io_context& ioc)
        : master(ioc)
        , idle(ioc)
        , kill_timer(ioc)
        , drain(ioc) {}
    asio::posix::stream_descriptor master;
    asio::steady_timer idle, kill_timer, drain;
    std::array<char, read_chunk> buf{};
    std::string pending_input;
    std::string writing;
    bool write_busy = false;
    bool reader_done = false;
    std::optional<int> status;
    pid_t foreground = 0; // the foreground group when the end began
    std::chrono::milliseconds idle_timeout{0};
    bool finished = false;
};

pty_session::pty_session(asio::io_context& ioc, pty_sessions& owner, std::string id, pty_options options)
    : owner_(owner)
    , id_(std::move(id))
    , options_(std::move(options))
    , io_(std::make_unique<io>(ioc))
    , cols_(options_.cols)
    , rows_(options_.rows)
    , created_at_(time_format::iso8601_ms_now()) {}

pty_session::~pty_session() = default;

void pty_session::launch(child_reaper& reaper) {
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        throw std::system_error(errno, std::generic_category(), "posix_openpt");
    io_->master.assign(master);
    char name[128];
    if (::grantpt(master) != 0 || ::unlockpt(master) != 0 || ::ptsname_r(master, name, sizeof name) != 0)
        throw std::system_error(errno, std::generic_category(), "pseudo-terminal");
    set_window(master, options_.cols, options_.rows);

    spawn_request sr;
    sr.command = options_.command;
    sr.cwd = options_.cwd;
    sr.env = options_.env;
    sr.terminal = name;
    auto self = shared_from_this();
    pid_t pid = reaper.spawn(sr, [self](int status) {
        // On the reaper's (the session's) thread.
        self->io_->status = status;
        if (self->io_->reader_done) {
            self->finish();
            return;
        }
        self->io_->drain.expires_after(drain_after_exit);
        self->io_->drain.async_wait([self](const boost::system::error_code& ec) {
            if (!ec)
                self->finish();
        });
    });
    {
        std::lock_guard lock(mutex_);
        pid_ = pid;
    }
    asio::post(io_->master.get_executor(), [self] { self->read_more(); });
}

void pty_session::read_more() {
    auto self = shared_from_this();
    io_->master.async_read_some(asio::buffer(io_->buf),
                                [self](const boost::system::error_code& ec, std::size_t n) {
                                    if (n > 0) {
                                        {
                                            std::lock_guard lock(self->mutex_);
                                            self->ring_.append({self->io_->buf.data(), n});
                                        }
                                        self->notify();
                                    }
                                    if (!ec) {
                                        self->read_more();
                                        return;
                                    }
                                    // EIO: every holder of the terminal's other side closed it.
                                    self->io_->reader_done = true;
                                    if (self->io_->status && !self->io_->finished)
                                        self->finish();
                                });
}

void pty_session::finish() {
    if (io_->finished)
        return;
    io_->finished = true;
    boost::system::error_code ignored;
    io_->master.close(ignored);
    io_->drain.cancel();
    io_->kill_timer.cancel();
    bool idle;
    bool forgotten;
    {
        std::lock_guard lock(mutex_);
        exited_ = true;
        wait_status_ = io_->status.value_or(0);
        idle = attached_ == 0;
        forgotten = ending_;
    }
    notify();
    if (forgotten)
        io_->idle.cancel();
    else if (idle)
        arm_idle();
}

void pty_session::notify() {
    std::vector<std::function<void()>> wakes;
    {
        std::lock_guard lock(mutex_);
        wakes.reserve(viewers_.size());
        for (const auto& v : viewers_)
            wakes.push_back(v.second);
    }
    for (auto& w : wakes)
        w();
}

void pty_session::arm_idle() {
    auto self = shared_from_this();
    io_->idle.expires_after(io_->idle_timeout);
    io_->idle.async_wait([self](const boost::system::error_code& ec) {
        if (ec)
            return;
        {
            std::lock_guard lock(self->mutex_);
            if (self->attached_ > 0)
                return;
        }
        log::info("terminal session {} idle: ending it", self->id_);
        self->owner_.forget(self.get());
        self->end();
    });
}

pty_info pty_session::info() const {
    std::lock_guard lock(mutex_);
    pty_info i;
    i.id = id_;
    i.command = options_.command;
    i.pid = pid_;
    i.cols = cols_;
    i.rows = rows_;
    i.created_at = created_at_;
    i.attached = attached_;
    i.offset = ring_.end();
    i.exited = exited_;
    if (exited_) {
        if (WIFEXITED(wait_status_))
            i.exit_code = WEXITSTATUS(wait_status_);
        else if (WIFSIGNALED(wait_status_)) {
            i.exit_code = 128 + WTERMSIG(wait_status_);
            i.signal = WTERMSIG(wait_status_);
        }
    }
    return i;
}

std::uint64_t pty_session::start_offset() const {
    std::lock_guard lock(mutex_);
    return ring_.start();
}

std::uint64_t pty_session::end_offset() const {
    std::lock_guard lock(mutex_);
    return ring_.end();
}

pty_session::read_result pty_session::read(std::uint64_t from, std::size_t max) const {
    read_result r;
    std::lock_guard lock(mutex_);
    if (from < ring_.start()) {
        r.gap_to = ring_.start();
        from = ring_.start();
    }
    ring_.copy(from, max, r.data);
    r.ended = exited_ && from + r.data.size() >= ring_.end();
    return r;
}

std::uint64_t pty_session::subscribe(std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    auto token = next_token_++;
    viewers_.emplace_back(token, std::move(wake));
    return token;
}

void pty_session::unsubscribe(std::uint64_t token) {
    std::lock_guard lock(mutex_);
    std::erase_if(viewers_, [token](const auto& v) { return v.first == token; });
}

void pty_session::attach() {
    std::lock_guard lock(mutex_);
    ++attached_;
}

void pty_session::detach() {
    {
        std::lock_guard lock(mutex_);
        if (attached_ == 0 || --attached_ > 0)
            return;
    }
    auto self = shared_from_this();
    asio::post(io_->master.get_executor(), [self] { self->arm_idle(); });
}

void pty_session::write_input(std::string data) {
    auto self = shared_from_this();
    asio::post(io_->master.get_executor(), [self, data = std::move(data)] {
        auto& st = *self->io_;
        if (st.finished)
            return;
        if (st.pending_input.size() + data.size() > max_pending_input)
            return; // a program that does not read its input: what does not fit is dropped
        st.pending_input += data;
        if (!st.write_busy)
            self->write_more();
    });
}

void pty_session::write_more() {
    auto& st = *io_;
    st.writing = std::move(st.pending_input);
    st.pending_input.clear();
    st.write_busy = true;
    auto self = shared_from_this();
    asio::async_write(st.master, asio::buffer(st.writing),
                      [self](const boost::system::error_code& ec, std::size_t) {
                          auto& s = *self->io_;
                          s.write_busy = false;
                          if (ec) {
                              s.pending_input.clear();
                              return;
                          }
                          if (!s.pending_input.empty())
                              self->write_more();
                      });
}

void pty_session::resize(unsigned short cols, unsigned short rows) {
    {
        std::lock_guard lock(mutex_);
        cols_ = cols;
        rows_ = rows;
    }
    auto self = shared_from_this();
    asio::post(io_->master.get_executor(), [self, cols, rows] {
        // The kernel sends SIGWINCH to the foreground group.
        if (!self->io_->finished)
            set_window(self->io_->master.native_handle(), cols, rows);
    });
}

void pty_session::signal(int sig) {
    auto self = shared_from_this();
    asio::post(io_->master.get_executor(), [self, sig] {
        auto& st = *self->io_;
        if (st.finished || st.status)
            return;
        pid_t group = ::tcgetpgrp(st.master.native_handle());
        ::kill(-(group > 0 ? group : self->pid_), sig);
    });
}

void pty_session::end() {
    {
        std::lock_guard lock(mutex_);
        if (ending_)
            return;
        ending_ = true;
    }
    auto self = shared_from_this();
    asio::post(io_->master.get_executor(), [self] {
        auto& st = *self->io_;
        st.idle.cancel();
        if (st.finished || st.status)
            return;
        // The shell's group and, when a job runs in a group of its own (a shell with job control), that one.
        st.foreground = ::tcgetpgrp(st.master.native_handle());
        ::kill(-self->pid_, SIGHUP);
        if (st.foreground > 0 && st.foreground != self->pid_)
            ::kill(-st.foreground, SIGHUP);
        st.kill_timer.expires_after(kill_grace);
        st.kill_timer.async_wait([self](const boost::system::error_code& ec) {
            auto& s = *self->io_;
            if (ec || s.status)
                return;
            ::kill(-self->pid_, SIGKILL);
            if (s.foreground > 0 && s.foreground != self->pid_)
                ::kill(-s.foreground, SIGKILL);
        });
    });
}

// ---- pty_sessions

pty_sessions::pty_sessions(asio::io_context& ioc, child_reaper& reaper,
                           std::chrono::milliseconds idle_timeout)
    : ioc_(ioc)
    , reaper_(reaper)
    , idle_timeout_(idle_timeout) {}

pty_sessions::~pty_sessions() = default;

std::shared_ptr<pty_session> pty_sessions::start(pty_options options) {
    std::lock_guard lock(mutex_);
    if (stopped_)
        return nullptr;
    if (sessions_.size() >= max_sessions) {
        // An ended session nobody watches gives its place to a new one (oldest first).
        auto it = std::find_if(sessions_.begin(), sessions_.end(), [](const auto& s) {
            auto i = s->info();
            return i.exited && i.attached == 0;
        });
        if (it == sessions_.end())
            return nullptr;
        sessions_.erase(it);
    }
    auto s = std::make_shared<pty_session>(ioc_, *this, random_id(), std::move(options));
    s->io_->idle_timeout = idle_timeout_;
    s->attach();
    s->launch(reaper_);
    sessions_.push_back(s);
    return s;
}

std::shared_ptr<pty_session> pty_sessions::attach(std::string_view id) {
    std::lock_guard lock(mutex_);
    for (auto& s : sessions_)
        if (s->id() == id) {
            s->attach();
            return s;
        }
    return nullptr;
}

std::vector<pty_info> pty_sessions::list() const {
    std::vector<std::shared_ptr<pty_session>> all;
    {
        std::lock_guard lock(mutex_);
        all = sessions_;
    }
    std::vector<pty_info> out;
    out.reserve(all.size());
    for (const auto& s : all)
        out.push_back(s->info());
    return out;
}

bool pty_sessions::end(std::string_view id) {
    std::shared_ptr<pty_session> found;
    {
        std::lock_guard lock(mutex_);
        auto it =
            std::find_if(sessions_.begin(), sessions_.end(), [id](const auto& s) { return s->id() == id; });
        if (it == sessions_.end())
            return false;
        found = *it;
        sessions_.erase(it);
    }
    found->end();
    return true;
}

void pty_sessions::forget(const pty_session* s) {
    std::lock_guard lock(mutex_);
    std::erase_if(sessions_, [s](const auto& p) { return p.get() == s; });
}

void pty_sessions::stop() noexcept {
    std::vector<std::shared_ptr<pty_session>> all;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        all.swap(sessions_);
    }
    for (auto& s : all) {
        try {
            s->end();
        } catch (const std::exception& e) { // a session that cannot be ended must not keep the others going
            log::warn("terminal session {}: not ended at stop: {}", s->id(), e.what());
        }
    }
}

} // namespace ag::engine
