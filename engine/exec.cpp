#include "engine/exec.hpp"

#include "engine/workload_limits.hpp"

#include "engine/child_reaper.hpp"
#include "engine/output_capture.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <memory>
#include <system_error>

namespace ag::engine {
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::chrono::milliseconds group_poll{50};

bool group_alive(pid_t pgid) {
    return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

struct pipe_pair {
    int read_end = -1;
    int write_end = -1;
    pipe_pair() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "pipe2");
        read_end = fds[0];
        write_end = fds[1];
    }
    pipe_pair(const pipe_pair&) = delete;
    pipe_pair& operator=(const pipe_pair&) = delete;
    ~pipe_pair() {
        close_read();
        close_write();
    }
    int release_read() { return std::exchange(read_end, -1); }
    int release_write() { return std::exchange(write_end, -1); }
    void close_read() {
        if (read_end >= 0)
            ::close(std::exchange(read_end, -1));
    }
    void close_write() {
        if (write_end >= 0)
            ::close(std::exchange(write_end, -1));
    }
};

// Shared by the coroutines of one exec and the reaper's exit callback.
struct exec_state {
    exec_state(const exec_state&) = delete;
    exec_state& operator=(const exec_state&) = delete;
    explicit exec_state(const asio::any_io_executor& ex)
        : event(ex)
        , out(ex)
        , err(ex)
        , in(ex) {}
    ~exec_state() {
        // The awaiting request went away (shutdown) while the command still ran: take the group down with it.
        if (pid > 0 && !status)
            ::kill(-pid, SIGKILL);
    }

    asio::steady_timer event; // cancelled on exit and when both readers finish
    asio::posix::stream_descriptor out, err, in;
    pid_t pid = -1;
    std::optional<int> status;
    int readers_done = 0;
    bool stop_requested = false; // exec_stopper::stop(): end it as if the timeout had passed
    bool input_over = false;     // the command is gone: an open stdin stops feeding it
    std::uint64_t bytes[2] = {0, 0};
    asio::steady_timer input_wake{event.get_executor()};

    void wake() { event.cancel(); }
};

asio::awaitable<void> read_stream(std::shared_ptr<exec_state> st, asio::posix::stream_descriptor& pipe,
                                  output_capture& capture, int index, const output_sink& sink) {
    std::unique_ptr<char[]> buf(new char[65536]);
    for (;;) {
        auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf.get(), 65536), use_tuple);
        st->bytes[index] += n;
        if (n > 0 && sink)
            co_await sink(index, std::string_view(buf.get(), n));
        else if (n > 0)
            capture.append({buf.get(), n});
        if (ec)
            break;
    }
    ++st->readers_done;
    st->wake();
}

asio::awaitable<void> write_stdin(std::shared_ptr<exec_state> st, std::string data) {
    if (!data.empty())
        co_await asio::async_write(st->in, asio::buffer(data), use_tuple);
    boost::system::error_code ec;
    st->in.close(ec); // EOF for the child
}

} // namespace

// exec_input's queue, as run_exec feeds it to the pipe.
struct exec_input_access {
    static void begin(exec_input& in, std::function<void()> wake) {
        std::lock_guard lock(in.mutex_);
        in.running_ = true;
        in.wake_ = std::move(wake);
    }
    static void end(exec_input& in) {
        std::lock_guard lock(in.mutex_);
        in.ended_ = true;
        in.running_ = false;
        in.queue_.clear();
        in.pending_ = 0;
        in.wake_ = nullptr;
    }
    // What waits, and whether EOF was asked for.
    static std::pair<std::vector<std::string>, bool> take(exec_input& in) {
        std::lock_guard lock(in.mutex_);
        return {std::exchange(in.queue_, {}), in.closing_};
    }
    static void written(exec_input& in, std::size_t n) {
        std::lock_guard lock(in.mutex_);
        in.pending_ -= std::min(in.pending_, n);
    }

    // Feeds the queue to the pipe until EOF is asked for, a write fails or the command is gone.
    static asio::awaitable<void> feed(std::shared_ptr<exec_state> st, std::shared_ptr<exec_input> input) {
        bool failed = false;
        while (!failed && !st->input_over) {
            auto [batch, closing] = take(*input);
            for (const auto& piece : batch) {
                auto [ec, n] = co_await asio::async_write(st->in, asio::buffer(piece), use_tuple);
                written(*input, piece.size());
                if (ec) {
                    failed = true;
                    break;
                }
            }
            if (failed || (batch.empty() && closing))
                break;
            if (batch.empty()) {
                st->input_wake.expires_at(std::chrono::steady_clock::time_point::max());
                co_await st->input_wake.async_wait(use_tuple);
            }
        }
        end(*input);
        boost::system::error_code ec;
        st->in.close(ec); // EOF for the child
    }
};

namespace {

// Waits until the child has exited or `deadline` passes (or, with `stoppable`, a stop was requested); true
// when it exited.
asio::awaitable<bool> wait_exit(exec_state& st, std::chrono::steady_clock::time_point deadline,
                                bool stoppable = false) {
    while (!st.status) {
        if (stoppable && st.stop_requested)
            co_return false;
        st.event.expires_at(deadline);
        auto [ec] = co_await st.event.async_wait(use_tuple);
        if (!ec && !st.status)
            co_return false; // the deadline passed
    }
    co_return true;
}

asio::awaitable<void> supervise(std::shared_ptr<exec_state> st, exec_result& result, exec_request& req) {
    using clock = std::chrono::steady_clock;
    // A timeout past what the clock can hold (a background process has none) never passes.
    const auto deadline = req.timeout >= std::chrono::hours(24 * 365 * 100) ? clock::time_point::max()
                                                                            : clock::now() + req.timeout;
    bool exited = co_await wait_exit(*st, deadline, true);
    if (!exited) {
        result.stopped = st->stop_requested;
        result.timed_out = !st->stop_requested;
        auto grace = req.kill_grace;
        if (req.stopper && st->stop_requested)
            grace = req.stopper->grace().value_or(grace);
        ::kill(-st->pid, SIGTERM);
        const auto grace_ends = clock::now() + grace;
        co_await wait_exit(*st, grace_ends);
        // The shell may go at SIGTERM while a child that ignores it lives on in the group: whatever is left
        // of the group when the grace ends is killed. (The group id cannot be reused while a member lives.)
        while (group_alive(st->pid) && clock::now() < grace_ends) {
            st->event.expires_after(std::min<clock::duration>(group_poll, grace_ends - clock::now()));
            co_await st->event.async_wait(use_tuple);
        }
        if (group_alive(st->pid))
            ::kill(-st->pid, SIGKILL);
        co_await wait_exit(*st, clock::time_point::max());
    }
    // The shell is gone; give the pipes a moment to reach EOF, then stop reading.
    auto drain_until = clock::now() + drain_after_exit;
    while (st->readers_done < 2) {
        st->event.expires_at(drain_until);
        auto [ec] = co_await st->event.async_wait(use_tuple);
        if (!ec)
            break;
    }
    boost::system::error_code ignored;
    st->out.close(ignored);
    st->err.close(ignored);
    st->in.close(ignored);
    st->input_over = true;
    st->input_wake.cancel();
}

} // namespace

void exec_stopper::stop() {
    std::vector<std::function<void()>> wakes;
    {
        std::lock_guard lock(mutex_);
        if (stopped_)
            return;
        stopped_ = true;
        wakes.swap(wakes_);
    }
    for (auto& w : wakes)
        w();
}

void exec_stopper::stop(std::chrono::milliseconds grace) {
    {
        std::lock_guard lock(mutex_);
        if (!stopped_)
            grace_ = grace;
    }
    stop();
}

std::optional<std::chrono::milliseconds> exec_stopper::grace() const {
    std::lock_guard lock(mutex_);
    return grace_;
}

exec_input::outcome exec_input::write(std::string data) {
    std::function<void()> wake;
    {
        std::lock_guard lock(mutex_);
        if (!running_)
            return ended_ ? outcome::closed : outcome::not_running;
        if (closing_)
            return outcome::closed;
        if (pending_ + data.size() > max_pending)
            return outcome::full;
        pending_ += data.size();
        queue_.push_back(std::move(data));
        wake = wake_;
    }
    if (wake)
        wake();
    return outcome::queued;
}

exec_input::outcome exec_input::close() {
    std::function<void()> wake;
    {
        std::lock_guard lock(mutex_);
        if (!running_)
            return ended_ ? outcome::closed : outcome::not_running;
        closing_ = true;
        wake = wake_;
    }
    if (wake)
        wake();
    return outcome::queued;
}

bool exec_stopper::stopped() const {
    std::lock_guard lock(mutex_);
    return stopped_;
}

void exec_stopper::on_stop(std::function<void()> wake) {
    {
        std::lock_guard lock(mutex_);
        if (!stopped_) {
            wakes_.push_back(std::move(wake));
            return;
        }
    }
    wake();
}

asio::awaitable<exec_result> run_exec(child_reaper& reaper, exec_request req) {
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<exec_state>(ex);
    exec_result result;
    output_capture out_cap(req.max_output), err_cap(req.max_output);

    pipe_pair out_pipe, err_pipe;
    std::optional<pipe_pair> in_pipe;
    if (req.stdin_data || req.input)
        in_pipe.emplace();

    spawn_request sr;
    sr.command = req.command;
    sr.cwd = req.cwd;
    sr.env = environment_with(req.env);
    sr.stdin_fd = in_pipe ? in_pipe->read_end : -1;
    sr.stdout_fd = out_pipe.write_end;
    sr.stderr_fd = err_pipe.write_end;

    auto started = std::chrono::steady_clock::now();
    const std::uint64_t oom_kills_before = reaper.limits() ? reaper.limits()->oom_kills() : 0;
    std::weak_ptr<exec_state> weak = st;
    st->pid = reaper.spawn(sr, [weak, ex](int status) {
        asio::post(ex, [weak, status] {
            if (auto s = weak.lock()) {
                s->status = status;
                s->wake();
            }
        });
    });

    if (req.on_started)
        req.on_started(st->pid);
    if (req.input)
        exec_input_access::begin(*req.input, [weak, ex] {
            asio::post(ex, [weak] {
                if (auto s = weak.lock())
                    s->input_wake.cancel();
            });
        });

    if (req.stopper)
        req.stopper->on_stop([weak, ex] {
            asio::post(ex, [weak] {
                if (auto s = weak.lock()) {
                    s->stop_requested = true;
                    s->wake();
                }
            });
        });

    // Only the child keeps the write ends of its output pipes, so EOF means every writer is gone.
    out_pipe.close_write();
    err_pipe.close_write();
    st->out.assign(out_pipe.release_read());
    st->err.assign(err_pipe.release_read());
    std::string stdin_data;
    if (in_pipe) {
        in_pipe->close_read();
        st->in.assign(in_pipe->release_write());
        if (!req.input)
            stdin_data = std::move(*req.stdin_data);
    }
    // A child that never reads stdin must not stall us; write errors (EPIPE) just end the writer.
    // All four at once (asio's awaitable operator, not a short circuit), named apart from the co_await.
    auto feed = req.input ? exec_input_access::feed(st, req.input) : write_stdin(st, std::move(stdin_data));
    auto all = read_stream(st, st->out, out_cap, 0, req.on_output) &&
               read_stream(st, st->err, err_cap, 1, req.on_output) && std::move(feed) &&
               supervise(st, result, req);
    co_await std::move(all);

    int status = *st->status;
    if (result.timed_out)
        result.exit_code = 124;
    else if (WIFEXITED(status))
        result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        result.exit_code = 128 + WTERMSIG(status);
    if (WIFSIGNALED(status))
        result.signal = WTERMSIG(status);
    result.wait_status = status;
    result.stdout_bytes = st->bytes[0];
    result.stderr_bytes = st->bytes[1];
    // The workload's cgroup counts OOM kills: one during this command, with a command ended by SIGKILL or
    // failing, is taken for its own (two commands hogging memory at once cannot be told apart).
    if (const auto* limits = reaper.limits(); limits && limits->counts_oom_kills())
        result.oom_killed =
            limits->oom_kills() > oom_kills_before && (result.signal == SIGKILL || result.exit_code != 0);
    result.stdout_text = out_cap.text();
    result.stderr_text = err_cap.text();
    result.truncated = out_cap.truncated() || err_cap.truncated();
    result.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    co_return result;
}

} // namespace ag::engine
