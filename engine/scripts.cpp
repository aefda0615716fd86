#include "engine/scripts.hpp"

#include "engine/child_reaper.hpp"
#include "engine/log_pipe.hpp"
#include "engine/manifest.hpp"
#include "engine/supervisor.hpp"
#include "logs/hub.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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
using namespace std::chrono_literals;

namespace {
constexpr std::string_view build_source = "script/build";
} // namespace

// Everything but the states under `mutex` is touched only on ioc's thread.
struct scripts::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& io, child_reaper& r, logs::hub& h, manifest_store& m, options o)
        : ioc(io)
        , reaper(r)
        , hub(h)
        , manifest(m)
        , opts(std::move(o))
        , build_exit(io)
        , build_timer(io) {
        build_exit.expires_at(clock::time_point::max());
    }

    asio::io_context& ioc;
    child_reaper& reaper;
    logs::hub& hub;
    manifest_store& manifest;
    options opts;
    asio::steady_timer build_exit, build_timer;
    pid_t build_pid = 0;
    std::optional<int> build_status;
    bool cycle_running = false, rerun = false, stopping = false;

    mutable std::mutex mutex;
    std::string build_state = "pending";
    std::string start_waiting = "pending"; // the start state while no start process is wanted
    std::unique_ptr<supervisor> start_proc;

    void set_build(std::string s) {
        std::lock_guard lock(mutex);
        build_state = std::move(s);
    }

    script_states states() const {
        auto m = manifest.current();
        std::lock_guard lock(mutex);
        script_states out{m->build_script ? build_state : "not_configured", "not_configured"};
        if (!m->start_script)
            return out;
        out.start = start_waiting;
        if (start_proc) {
            auto s = start_proc->current();
            if (s.restart_pending)
                out.start = "failed"; // crashed; its restart is pending
            else if (s.state != run_state::not_running)
                out.start = "running";
        }
        return out;
    }

    // Runs the build script; true when it exited 0 within the timeout.
    asio::awaitable<bool> run_build(const std::string& command) {
        auto started = clock::now();
        hub.publish(logs::level::info, build_source, "build started: " + command);
        try {
            build_status.reset();
            build_pid = spawn_logged(ioc, reaper, hub, command, opts.cwd, opts.env, std::string(build_source),
                                     [self = shared_from_this()](int status) {
                                         self->build_status = status;
                                         self->build_pid = 0;
                                         self->build_exit.cancel();
                                     });
        } catch (const std::exception& e) {
            hub.publish(logs::level::error, build_source, std::string("build could not start: ") + e.what());
            co_return false;
        }
        pid_t pgid = build_pid;
        bool timed_out = false;
        build_timer.expires_after(opts.build_timeout);
        build_timer.async_wait([this, pgid, &timed_out](const boost::system::error_code& ec) {
            if (ec || build_status)
                return;
            timed_out = true;
            ::kill(-pgid, SIGTERM);
            build_timer.expires_after(2s);
            build_timer.async_wait([pgid](const boost::system::error_code& e) {
                if (!e)
                    ::kill(-pgid, SIGKILL);
            });
        });
        while (!build_status)
            co_await build_exit.async_wait(use_tuple);
        build_timer.cancel();
        ::kill(-pgid, SIGKILL); // nothing a build started may outlive it
        int st = *build_status;
        double secs = std::chrono::duration<double>(clock::now() - started).count();
        bool ok = !timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (ok)
            hub.publish(logs::level::info, build_source, fmt::format("build succeeded in {:.1f}s", secs));
        else if (timed_out)
            hub.publish(
                logs::level::error, build_source,
                fmt::format("build timed out after {}s and was killed",
                            std::chrono::duration_cast<std::chrono::seconds>(opts.build_timeout).count()));
        else if (WIFEXITED(st))
            hub.publish(logs::level::error, build_source,
                        fmt::format("build failed with exit code {} after {:.1f}s", WEXITSTATUS(st), secs));
        else
            hub.publish(logs::level::error, build_source,
                        fmt::format("build killed by signal {} after {:.1f}s", WTERMSIG(st), secs));
        co_return ok;
    }

    // A parameter, not a lambda capture: captures do not live in the coroutine frame.
    static asio::awaitable<void> stop_here(std::shared_ptr<impl> self) {
        self->stopping = true;
        if (self->build_pid)
            ::kill(-self->build_pid, SIGKILL);
        if (self->start_proc)
            co_await self->start_proc->stop();
    }

    asio::awaitable<void> cycle() {
        cycle_running = true;
        do {
            rerun = false;
            auto m = manifest.current();
            bool ok = true;
            if (m->build_script) {
                set_build("running");
                ok = co_await run_build(*m->build_script);
                set_build(ok ? "success" : "failed");
            }
            if (stopping)
                break;
            if (!m->start_script) {
                if (start_proc)
                    co_await start_proc->stop();
                continue;
            }
            if (!ok)
                continue; // "If build fails, start does not run": a start from an earlier build keeps running
            if (!start_proc) {
                std::lock_guard lock(mutex);
                start_proc = std::make_unique<supervisor>(
                    ioc, reaper, hub,
                    process_spec{"start script", *m->start_script, opts.cwd, opts.env, "script/start"});
            }
            co_await start_proc->restart(*m->start_script);
        } while (rerun && !stopping);
        cycle_running = false;
    }
};

scripts::scripts(asio::io_context& ioc, child_reaper& reaper, logs::hub& hub, manifest_store& manifest,
                 options opts)
    : impl_(std::make_shared<impl>(ioc, reaper, hub, manifest, std::move(opts))) {}

scripts::~scripts() = default;

bool scripts::configured() const {
    auto m = impl_->manifest.current();
    return m->build_script || m->start_script;
}

void scripts::rebuild() {
    asio::post(impl_->ioc, [self = impl_] {
        if (self->stopping)
            return;
        if (self->cycle_running) {
            self->rerun = true;
            return;
        }
        auto m = self->manifest.current();
        if (!m->build_script && !m->start_script)
            return;
        asio::co_spawn(self->ioc, self->cycle(), asio::detached);
    });
}

script_states scripts::states() const {
    return impl_->states();
}

asio::awaitable<void> scripts::stop() {
    co_await asio::co_spawn(impl_->ioc, impl::stop_here(impl_), asio::use_awaitable);
}

} // namespace ag::engine
