#include "engine/child_reaper.hpp"

#include "engine/child_ledger.hpp"
#include "engine/workload_limits.hpp"

#include "util/log.hpp"
#include "util/scope_exit.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/core.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <mutex>
#include <system_error>
#include <unordered_map>

extern char** environ;

namespace ag::engine {

namespace {
constexpr std::size_t long_command_bytes = 64 * 1024;
}

struct child_reaper::impl {
    explicit impl(boost::asio::io_context& ioc)
        : signals(ioc, SIGCHLD) {}

    boost::asio::signal_set signals;
    mutable std::mutex mutex;
    std::unordered_map<pid_t, exit_callback> children;
    bool stopped = false;
    child_ledger* ledger = nullptr;

    void arm() {
        signals.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            reap();
            arm();
        });
    }

    void reap() {
        for (;;) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                return;
            exit_callback cb;
            {
                // spawn() holds the mutex from posix_spawn until the callback is stored, so a child that
                // exits at once is still found here.
                std::lock_guard lock(mutex);
                auto it = children.find(pid);
                if (it != children.end()) {
                    cb = std::move(it->second);
                    children.erase(it);
                    if (ledger)
                        ledger->ended(pid);
                }
            }
            if (cb)
                cb(status);
            else
                log::debug("reaped orphan process {}", pid);
        }
    }
};

child_reaper::child_reaper(boost::asio::io_context& ioc)
    : impl_(std::make_unique<impl>(ioc)) {}
child_reaper::~child_reaper() {
    stop();
}

void child_reaper::start() {
    impl_->arm();
    impl_->reap(); // children that exited before the handler was armed
}

void child_reaper::stop() noexcept {
    boost::system::error_code ec;
    impl_->signals.cancel(ec);
}

void child_reaper::set_ledger(child_ledger* ledger) noexcept {
    std::lock_guard lock(impl_->mutex);
    impl_->ledger = ledger;
}

std::size_t child_reaper::running() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->children.size();
}

pid_t child_reaper::spawn(const spawn_request& req, exit_callback on_exit) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    scope_exit guard([&] {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    });

    // /dev/null is opened once for the daemon's life: one dup2 in the child instead of an open per stream.
    static const int dev_null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    auto redirect = [&](int fd, int target, int flags) {
        if (fd >= 0)
            posix_spawn_file_actions_adddup2(&actions, fd, target);
        else if (dev_null >= 0)
            posix_spawn_file_actions_adddup2(&actions, dev_null, target);
        else
            posix_spawn_file_actions_addopen(&actions, target, "/dev/null", flags, 0);
    };
    if (!req.terminal.empty()) {
        // Opened after setsid() and without O_NOCTTY, the terminal becomes the session's controlling one.
        posix_spawn_file_actions_addopen(&actions, 0, req.terminal.c_str(), O_RDWR, 0);
        posix_spawn_file_actions_adddup2(&actions, 0, 1);
        posix_spawn_file_actions_adddup2(&actions, 0, 2);
    } else {
        redirect(req.stdin_fd, 0, O_RDONLY);
        redirect(req.stdout_fd, 1, O_WRONLY);
        redirect(req.stderr_fd, 2, O_WRONLY);
    }
    if (!req.cwd.empty())
        posix_spawn_file_actions_addchdir_np(&actions, req.cwd.c_str());
    // A command longer than one argument may be (128 KiB on Linux) is read by the shell from a sealed
    // in-memory file on descriptor 3 instead.
    int script = -1;
    scope_exit script_guard([&script] {
        if (script >= 0)
            ::close(script);
    });
    std::string command = req.command;
    if (command.size() >= long_command_bytes) {
        script = ::memfd_create("agent-gateway-command", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (script < 0)
            throw std::system_error(errno, std::generic_category(), "memfd_create");
        for (std::string_view rest = command; !rest.empty();) {
            ssize_t n = ::write(script, rest.data(), rest.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                throw std::system_error(errno, std::generic_category(), "write the command");
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
        ::fcntl(script, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        posix_spawn_file_actions_adddup2(&actions, script, 3);
        command = ". /dev/fd/3";
    }
    // With workload limits the shell first waits on a pipe until the daemon has raised its oom score and
    // moved it into the workload's cgroups (posix_spawn cannot do that in the child), so nothing of the
    // command runs, or forks, outside them.
    int gate[2] = {-1, -1};
    scope_exit gate_guard([&gate] {
        for (int fd : gate)
            if (fd >= 0)
                ::close(fd);
    });
    int next_fd = script >= 0 ? 4 : 3;
    if (limits_ && ::pipe2(gate, O_CLOEXEC) == 0) {
        posix_spawn_file_actions_adddup2(&actions, gate[0], next_fd);
        command = fmt::format("read -r _ <&{0}; exec {0}<&-; {1}", next_fd, command);
        ++next_fd;
    }
    // Nothing of the daemon's reaches a child: not a listening socket (a background server would keep the
    // port after we exit), not a client's connection, not a file. Everything is opened close-on-exec as
    // well; this also covers descriptors a library opened without it.
    posix_spawn_file_actions_addclosefrom_np(&actions, next_fd);

    // The daemon ignores SIGPIPE and blocks nothing on purpose; children get the defaults back.
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2})
        sigaddset(&defaults, s);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setpgroup(&attr, 0);
    // A new session is a new process group too (setpgid would fail on a session leader).
    const short group = req.terminal.empty() ? POSIX_SPAWN_SETPGROUP : POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, static_cast<short>(group | POSIX_SPAWN_SETSIGDEF |
                                                       POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK));

    std::vector<char*> envp;
    envp.reserve(req.env.size() + 1);
    for (const auto& e : req.env)
        envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};

    std::lock_guard lock(impl_->mutex);
    pid_t pid = -1;
    child_ledger* ledger = impl_->ledger;
    const std::uint64_t before = ledger ? ticks_since_boot() : 0;
    int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), envp.data());
    if (rc != 0)
        throw std::system_error(rc, std::generic_category(), "spawn /bin/sh");
    impl_->children.emplace(pid, std::move(on_exit));
    if (ledger) {
        static const pid_t own_session = ::getsid(0);
        ledger->started(pid, req.terminal.empty() ? own_session : pid, before, ticks_since_boot());
    }
    if (gate[1] >= 0) {
        limits_->adopt(pid);
        // Lets the shell go on (a child that died meanwhile makes this fail, harmlessly).
        [[maybe_unused]] ssize_t n = ::write(gate[1], "\n", 1);
    }
    return pid;
}

std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& extra) {
    // The daemon never changes its own environment, so it is indexed once.
    struct base_environment {
        std::vector<std::string> env;
        std::unordered_map<std::string, std::size_t> index;
        base_environment() {
            for (char** e = environ; e && *e; ++e) {
                std::string kv = *e;
                auto eq = kv.find('=');
                // The daemon's own settings (AGENT_GATEWAY_TOKEN among them) are not the workload's.
                if (eq == std::string::npos || kv.starts_with("AGENT_GATEWAY_"))
                    continue;
                index[kv.substr(0, eq)] = env.size();
                env.push_back(std::move(kv));
            }
        }
    };
    static const base_environment base;
    std::vector<std::string> env = base.env;
    std::unordered_map<std::string, std::size_t> index;
    for (const auto& [k, v] : extra) {
        std::string kv = k;
        kv.append("=").append(v);
        if (auto it = base.index.find(k); it != base.index.end()) {
            env[it->second] = std::move(kv);
        } else if (auto own = index.find(k); own != index.end()) {
            env[own->second] = std::move(kv);
        } else {
            index[k] = env.size();
            env.push_back(std::move(kv));
        }
    }
    return env;
}

} // namespace ag::engine
