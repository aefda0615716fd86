#include "engine/supervisor.hpp"

#include "engine/child_reaper.hpp"
#include "engine/log_pipe.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <mutex>

namespace ag::engine {
using clock = std::chrono::steady_clock;

std::string_view state_name(run_state s) noexcept {
    switch (s) {
    case run_state::not_running:
        return "not_running";
    case run_state::starting:
        return "starting";
    case run_state::running:
        return "running";
    }
    return "not_running";
}

namespace {

std::string describe_exit(int status) {
    if (WIFEXITED(status))
        return fmt::format("exit code {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return fmt::format("signal {}", WTERMSIG(status));
    return "unknown status";
}

} // namespace

// Everything but `published` is touched only on ioc's thread.
struct supervisor::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& io, child_reaper& r, logs::hub& h, process_spec s, backoff_policy p)
        : ioc(io)
        , reaper(r)
        , hub(h)
        , spec(std::move(s))
        , policy(p)
        , backoff_timer(io)
        , running_timer(io)
        , kill_timer(io)
        , exited(io)
        , delay(p.first) {
        exited.expires_at(clock::time_point::max()); // only ever cancelled: a broadcast to stop() waiters
    }

    asio::io_context& ioc;
    child_reaper& reaper;
    logs::hub& hub;
    process_spec spec;
    backoff_policy policy;
    asio::steady_timer backoff_timer, running_timer, kill_timer, exited;
    std::chrono::milliseconds delay;
    pid_t pid = 0;
    bool wanted = false;
    clock::time_point started_at;
    unsigned restarts = 0;

    mutable std::mutex mutex;
    status published;

    void publish(run_state s, bool restart_pending) {
        std::lock_guard lock(mutex);
        published = status{s, pid ? std::optional<pid_t>(pid) : std::nullopt, restart_pending, restarts};
    }

    void spawn() {
        if (pid || !wanted)
            return;
        try {
            pid = spawn_logged(ioc, reaper, hub, spec.command, spec.cwd, spec.env, spec.log_source,
                               [self = shared_from_this()](int status) { self->on_exit(status); });
        } catch (const std::exception& e) {
            log::error("{}: cannot start: {}", spec.label, e.what());
            schedule_restart();
            return;
        }
        started_at = clock::now();
        log::info("{} started (pid {})", spec.label, pid);
        publish(run_state::starting, false);
        running_timer.expires_after(policy.running_after);
        running_timer.async_wait([self = shared_from_this(), p = pid](const boost::system::error_code& ec) {
            if (!ec && self->pid == p)
                self->publish(run_state::running, false);
        });
    }

    void schedule_restart() {
        publish(run_state::starting, true);
        log::warn("{}: restarting in {}s", spec.label, static_cast<double>(delay.count()) / 1000.0);
        backoff_timer.expires_after(delay);
        backoff_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec)
                self->spawn();
        });
        delay = std::min(delay * 2, policy.max);
    }

    void on_exit(int status) {
        pid_t gone = pid;
        pid = 0;
        // Whatever it left in its process group goes with it, so a restart never runs next to a straggler.
        if (gone > 0)
            ::kill(-gone, SIGKILL);
        running_timer.cancel();
        kill_timer.cancel();
        exited.cancel();
        auto ran = clock::now() - started_at;
        if (!wanted) {
            log::info("{} stopped ({})", spec.label, describe_exit(status));
            publish(run_state::not_running, false);
            return;
        }
        ++restarts;
        if (ran >= policy.reset_after)
            delay = policy.first;
        log::warn("{} exited unexpectedly ({}) after {:.1f}s", spec.label, describe_exit(status),
                  std::chrono::duration<double>(ran).count());
        schedule_restart();
    }

    asio::awaitable<void> stop_here() {
        wanted = false;
        backoff_timer.cancel();
        if (!pid) {
            publish(run_state::not_running, false);
            co_return;
        }
        pid_t p = pid;
        ::kill(-p, SIGTERM);
        kill_timer.expires_after(policy.kill_after);
        kill_timer.async_wait([self = shared_from_this(), p](const boost::system::error_code& ec) {
            if (!ec && self->pid == p) {
                log::warn("{} ignored SIGTERM for {}s; sending SIGKILL", self->spec.label,
                          self->policy.kill_after.count() / 1000);
                ::kill(-p, SIGKILL);
            }
        });
        while (pid == p)
            co_await exited.async_wait(use_tuple);
    }

    asio::awaitable<std::optional<pid_t>> restart_here(std::optional<std::string> command) {
        std::optional<pid_t> previous = pid ? std::optional<pid_t>(pid) : std::nullopt;
        co_await stop_here();
        if (command)
            spec.command = std::move(*command);
        wanted = true;
        delay = policy.first;
        spawn();
        co_return previous;
    }
};

supervisor::supervisor(asio::io_context& ioc, child_reaper& reaper, logs::hub& hub, process_spec spec,
                       backoff_policy policy)
    : impl_(std::make_shared<impl>(ioc, reaper, hub, std::move(spec), policy)) {}

supervisor::~supervisor() = default;

supervisor::status supervisor::current() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->published;
}

void supervisor::start() {
    asio::post(impl_->ioc, [self = impl_] {
        if (self->wanted)
            return;
        self->wanted = true;
        self->delay = self->policy.first;
        self->spawn();
    });
}

asio::awaitable<std::optional<pid_t>> supervisor::restart(std::optional<std::string> command) {
    co_return co_await asio::co_spawn(impl_->ioc, impl_->restart_here(std::move(command)),
                                      asio::use_awaitable);
}

asio::awaitable<void> supervisor::stop() {
    co_await asio::co_spawn(impl_->ioc, impl_->stop_here(), asio::use_awaitable);
}

} // namespace ag::engine
