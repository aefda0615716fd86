#include "engine/workload_limits.hpp"

#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace ag::engine {
namespace {

bool write_text(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = ::write(fd, text.data(), text.size());
    const bool ok = n == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

// "" when it cannot be read: the limits are best effort and never fail a command.
std::string read_text(const std::string& path) {
    try {
        return fs_util::read_file(path).value_or(std::string());
    } catch (const std::system_error&) {
        return {};
    }
}

// The daemon's own cgroup in each hierarchy: "controllers" → path, from /proc/self/cgroup.
struct own_cgroups {
    std::string v2;     // the unified hierarchy's path ("" when none)
    std::string pids;   // v1
    std::string memory; // v1
};

own_cgroups read_own_cgroups() {
    own_cgroups out;
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        auto a = line.find(':');
        auto b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos)
            continue;
        std::string controllers = line.substr(a + 1, b - a - 1);
        std::string path = line.substr(b + 1);
        if (controllers.empty())
            out.v2 = path;
        std::stringstream list(controllers);
        for (std::string c; std::getline(list, c, ',');) {
            if (c == "pids")
                out.pids = path;
            else if (c == "memory")
                out.memory = path;
        }
    }
    return out;
}

// Removes workload cgroups an earlier daemon left when it was killed (empty, its pid gone).
void remove_stale(const std::string& parent) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
        std::string name = e.path().filename().string();
        if (!name.starts_with("agent-gateway-"))
            continue;
        auto pid = static_cast<pid_t>(std::atol(name.c_str() + 14));
        if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM))
            continue;
        ::rmdir(e.path().c_str());
    }
}

// A directory for the workload under `parent` (a cgroup directory); "" when it cannot be made.
std::string make_cgroup(const std::string& parent, std::vector<std::string>& made) {
    remove_stale(parent);
    // The pid says whose it is (remove_stale); the suffix keeps two daemons apart that share a pid, as every
    // daemon running as PID 1 of its own namespace does, and a directory a killed one left from being reused.
    static const std::string suffix = std::to_string(std::random_device{}() & 0xffffff);
    std::string dir = parent + "/agent-gateway-" + std::to_string(::getpid()) + "-" + suffix;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        return {};
    made.push_back(dir);
    return dir;
}

int own_oom_score_adj() {
    std::string v = read_text("/proc/self/oom_score_adj");
    return v.empty() ? 0 : std::atoi(v.c_str());
}

} // namespace

workload_limits::workload_limits(options o)
    : options_(std::move(o)) {
    const int score = std::clamp(std::max(options_.oom_score_adj, own_oom_score_adj() + 1), -999, 1000);
    oom_score_ = std::to_string(score);

    const own_cgroups own = read_own_cgroups();
    const std::string& root = options_.cgroup_root;
    const bool pure_v2 = std::filesystem::exists(root + "/cgroup.controllers");
    if (pure_v2) {
        // v2 (a hybrid system's unified hierarchy has no controllers: v1 holds them): controllers reach a
        // child only when the parent delegates them (subtree_control), which a parent holding processes (the
        // daemon itself) cannot do unless it is the root.
        std::string base = root + (own.v2 == "/" ? "" : own.v2);
        std::string wanted =
            std::string(options_.max_pids ? " +pids" : "") + (options_.max_memory ? " +memory" : "");
        if (!wanted.empty())
            write_text(base + "/cgroup.subtree_control", wanted.substr(1));
        if (std::string dir = make_cgroup(base, made_); !dir.empty()) {
            procs_files_.emplace_back(dir + "/cgroup.procs");
            if (options_.max_pids && !write_text(dir + "/pids.max", std::to_string(options_.max_pids)))
                missing_.emplace_back("pids.max (v2: not delegated)");
            if (options_.max_memory && !write_text(dir + "/memory.max", std::to_string(options_.max_memory)))
                missing_.emplace_back("memory.max (v2: not delegated)");
            if (std::filesystem::exists(dir + "/memory.events"))
                oom_file_ = dir + "/memory.events";
        }
    }
    if (!own.pids.empty() && std::filesystem::exists(root + "/pids")) {
        if (std::string dir = make_cgroup(root + "/pids" + (own.pids == "/" ? "" : own.pids), made_);
            !dir.empty()) {
            procs_files_.emplace_back(dir + "/cgroup.procs");
            if (options_.max_pids && !write_text(dir + "/pids.max", std::to_string(options_.max_pids)))
                missing_.emplace_back("pids.max");
        } else {
            missing_.emplace_back("a pids cgroup (not writable)");
        }
    }
    if (!own.memory.empty() && std::filesystem::exists(root + "/memory")) {
        if (std::string dir = make_cgroup(root + "/memory" + (own.memory == "/" ? "" : own.memory), made_);
            !dir.empty()) {
            procs_files_.emplace_back(dir + "/cgroup.procs");
            if (options_.max_memory &&
                !write_text(dir + "/memory.limit_in_bytes", std::to_string(options_.max_memory)))
                missing_.emplace_back("memory.limit_in_bytes");
            oom_file_ = dir + "/memory.oom_control";
        } else {
            missing_.emplace_back("a memory cgroup (not writable)");
        }
    }
    if (procs_files_.empty())
        missing_.emplace_back("any writable cgroup");
}

workload_limits::~workload_limits() {
    // Empty by now (the workload was stopped before); a directory that still holds a process stays.
    for (std::size_t i = made_.size(); i-- > 0;)
        ::rmdir(made_[i].c_str());
}

void workload_limits::adopt(pid_t pid) noexcept {
    static std::atomic<bool> warned{false};
    const std::string id = std::to_string(pid);
    bool ok = write_text("/proc/" + id + "/oom_score_adj", oom_score_);
    for (const auto& f : procs_files_)
        ok = write_text(f, id) && ok;
    if (!ok && !warned.exchange(true))
        log::warn("workload limits: could not place child {} ({}); later failures are not logged", pid,
                  std::strerror(errno));
}

std::uint64_t workload_limits::oom_kills() const {
    if (oom_file_.empty())
        return 0;
    std::string text = read_text(oom_file_);
    auto at = text.find("oom_kill ");
    return at == std::string::npos ? 0 : std::strtoull(text.c_str() + at + 9, nullptr, 10);
}

std::string workload_limits::describe() const {
    std::string out = "oom_score_adj " + oom_score_ + " for children";
    if (!procs_files_.empty()) {
        out += ", cgroups";
        for (const auto& dir : made_)
            out += " " + dir;
    }
    if (options_.max_pids)
        out += ", pids.max " + std::to_string(options_.max_pids);
    if (options_.max_memory)
        out += ", memory limit " + std::to_string(options_.max_memory) + " bytes";
    if (!missing_.empty()) {
        out += "; not in place:";
        for (const auto& m : missing_)
            out += " " + m + ";";
        out.pop_back();
    }
    return out;
}

} // namespace ag::engine
