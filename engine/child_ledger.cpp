#include "engine/child_ledger.hpp"

#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <fmt/core.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <ctime>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace ag::engine {

namespace {

constexpr std::string_view magic = "agent-gateway children 1";
constexpr std::size_t compact_above = 64 * 1024;

// The pieces of `s` between runs of `sep`.
std::vector<std::string_view> fields(std::string_view s, char sep = ' ') {
    std::vector<std::string_view> out;
    std::size_t at = 0;
    while (at < s.size()) {
        if (s[at] == sep) {
            ++at;
            continue;
        }
        auto end = s.find(sep, at);
        if (end == std::string_view::npos)
            end = s.size();
        out.push_back(s.substr(at, end - at));
        at = end;
    }
    return out;
}

// "pid (comm) S ppid pgrp session … starttime …": the fields after the last ')' (comm may hold any byte).
std::optional<proc_entry> parse_stat(std::string_view stat) {
    auto close = stat.rfind(')');
    if (close == std::string_view::npos)
        return std::nullopt;
    std::vector<std::string_view> f = fields(stat.substr(close + 1));
    // f[0] is field 3 (state); pgrp is field 5, session 6, starttime 22.
    if (f.size() < 20)
        return std::nullopt;
    proc_entry e;
    auto pid = text::parse_u64(text::trim(stat.substr(0, stat.find(' '))));
    auto pgid = text::parse_u64(f[2]);
    auto sid = text::parse_u64(f[3]);
    auto start = text::parse_u64(f[19]);
    if (!pid || !pgid || !sid || !start)
        return std::nullopt;
    e.pid = static_cast<pid_t>(*pid);
    e.pgid = static_cast<pid_t>(*pgid);
    e.sid = static_cast<pid_t>(*sid);
    e.start = *start;
    e.zombie = f[0] == "Z" || f[0] == "X";
    return e;
}

std::string boot_id() {
    auto text = fs_util::read_file("/proc/sys/kernel/random/boot_id");
    return text ? std::string(text::trim(*text)) : std::string();
}

struct ledger_line {
    pid_t pgid = 0;
    pid_t sid = 0;
    std::uint64_t from = 0;
    std::uint64_t to = 0;
};

} // namespace

std::uint64_t ticks_since_boot() noexcept {
    static const long hz = ::sysconf(_SC_CLK_TCK);
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    const auto ns =
        static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
    return ns / (1'000'000'000ULL / static_cast<std::uint64_t>(hz > 0 ? hz : 100));
}

std::optional<proc_entry> read_proc_entry(pid_t pid, const std::string& proc_root) {
    auto text = fs_util::read_file(proc_root + "/" + std::to_string(pid) + "/stat");
    return text ? parse_stat(*text) : std::nullopt;
}

std::vector<proc_entry> read_proc(const std::string& proc_root) {
    std::vector<proc_entry> out;
    DIR* dir = ::opendir(proc_root.c_str());
    if (!dir)
        return out;
    while (dirent* d = ::readdir(dir)) {
        if (d->d_name[0] < '1' || d->d_name[0] > '9')
            continue;
        auto pid = text::parse_u64(d->d_name);
        if (!pid)
            continue;
        if (auto e = read_proc_entry(static_cast<pid_t>(*pid), proc_root))
            out.push_back(*e); // else it went meanwhile
    }
    ::closedir(dir);
    return out;
}

std::vector<pid_t> leftover_groups(std::string_view ledger, std::string_view boot,
                                   const std::vector<proc_entry>& procs) {
    std::vector<std::string_view> lines = fields(ledger, '\n');
    if (lines.empty())
        return {};
    // The header: magic, boot id, the writer's pid and start.
    std::string_view head = lines[0];
    if (!head.starts_with(magic))
        return {};
    std::vector<std::string_view> h = fields(head.substr(magic.size()));
    if (h.size() != 3 || h[0] != boot || boot.empty())
        return {}; // another boot: everything it started is gone
    auto writer_pid = text::parse_u64(h[1]);
    auto writer_start = text::parse_u64(h[2]);
    if (!writer_pid || !writer_start)
        return {};
    std::unordered_map<pid_t, std::vector<const proc_entry*>> by_group;
    std::unordered_map<pid_t, std::vector<const proc_entry*>> by_session;
    for (const auto& p : procs) {
        if (p.pid == static_cast<pid_t>(*writer_pid) && p.start == *writer_start)
            return {}; // the daemon that wrote it still runs: its children are its own
        by_group[p.pgid].push_back(&p);
        by_session[p.sid].push_back(&p);
    }
    std::vector<pid_t> out;
    std::unordered_set<pid_t> seen;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::vector<std::string_view> f = fields(lines[i]);
        if (f.size() != 4)
            continue; // a line cut by the kill
        auto pgid = text::parse_u64(f[0]);
        auto sid = text::parse_u64(f[1]);
        auto from = text::parse_u64(f[2]);
        auto to = text::parse_u64(f[3]);
        if (!pgid || !sid || !from || !to || *pgid <= 1)
            continue;
        ledger_line l{static_cast<pid_t>(*pgid), static_cast<pid_t>(*sid), *from, *to};
        // A group that leads a session of its own (a terminal) answers for the whole session: the jobs its
        // shell put into groups of their own are its too. Any other group answers for itself alone (its
        // session is the daemon's).
        const auto& members = l.sid == l.pgid ? by_session : by_group;
        auto it = members.find(l.pgid);
        if (it == members.end())
            continue;
        const proc_entry* leader = nullptr;
        for (const proc_entry* p : it->second)
            if (p->pid == l.pgid)
                leader = p;
        // The leader, when there, must be the one we started; without it, the id cannot have been given to
        // anybody else (the kernel keeps an id in use while a group or session has it), so members of our
        // session that started after it are ours.
        if (leader && !(leader->sid == l.sid && leader->start >= l.from && leader->start <= l.to))
            continue;
        for (const proc_entry* p : it->second) {
            const bool ours = leader || (p->sid == l.sid && p->start >= l.from);
            if (ours && !p->zombie && p->pgid > 1 && seen.insert(p->pgid).second)
                out.push_back(p->pgid);
        }
    }
    return out;
}

child_ledger::child_ledger(std::string path)
    : path_(std::move(path)) {
    const std::string boot = boot_id();
    if (auto old = fs_util::read_file(path_)) {
        std::vector<pid_t> groups = leftover_groups(*old, boot, read_proc());
        for (pid_t g : groups)
            ::kill(-g, SIGKILL);
        killed_ = groups.size();
        if (!groups.empty()) {
            // Gone means exited (a zombie holds no port or file); SIGKILL takes effect within milliseconds.
            std::unordered_set<pid_t> wanted(groups.begin(), groups.end());
            for (int i = 0; i < 100; ++i) {
                bool any = false;
                for (const auto& p : read_proc())
                    any |= !p.zombie && wanted.contains(p.pgid);
                if (!any)
                    break;
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            std::string list;
            for (pid_t g : groups)
                list += (list.empty() ? "" : ", ") + std::to_string(g);
            log::warn("killed {} process group{} that an earlier run left running when it was killed: {}",
                      groups.size(), groups.size() == 1 ? "" : "s", list);
        }
    }
    std::uint64_t own_start = 0;
    if (auto self = read_proc_entry(::getpid()))
        own_start = self->start;
    header_ = fmt::format("{} {} {} {}\n", magic, boot.empty() ? "-" : boot, ::getpid(), own_start);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0 || ::write(fd_, header_.data(), header_.size()) != static_cast<ssize_t>(header_.size())) {
        log::warn("{}: cannot keep the ledger of child processes ({}): a daemon killed with SIGKILL leaves "
                  "them running past its next start",
                  path_, std::strerror(errno));
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
    size_ = header_.size();
}

child_ledger::~child_ledger() {
    if (fd_ >= 0)
        ::close(fd_);
}

void child_ledger::started(pid_t pgid, pid_t sid, std::uint64_t from, std::uint64_t to) noexcept {
    // A tick either side: the kernel and this clock may round the same instant apart.
    std::string line = fmt::format("{} {} {} {}\n", pgid, sid, from > 0 ? from - 1 : 0, to + 1);
    std::lock_guard lock(mutex_);
    if (fd_ < 0)
        return;
    if (size_ + line.size() > compact_at_) {
        running_[pgid] = std::move(line);
        rewrite();
        return;
    }
    if (::write(fd_, line.data(), line.size()) == static_cast<ssize_t>(line.size()))
        size_ += line.size();
    running_[pgid] = std::move(line);
}

void child_ledger::ended(pid_t pgid) noexcept {
    std::lock_guard lock(mutex_);
    if (running_.erase(pgid) == 0 || fd_ < 0)
        return;
    // Nothing running: back to the header alone (appends go to the new end).
    if (running_.empty() && ::ftruncate(fd_, static_cast<off_t>(header_.size())) == 0)
        size_ = header_.size();
}

void child_ledger::rewrite() noexcept {
    std::string all = header_;
    for (const auto& [pgid, line] : running_)
        all += line;
    try {
        fs_util::write_file_atomic(path_, all, 0600);
    } catch (const std::exception& e) {
        log::warn("{}: {}", path_, e.what());
        return;
    }
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    ::close(fd_);
    fd_ = fd;
    size_ = all.size();
    // Many groups running at once: the next rewrite waits for twice as much (a rewrite per spawn otherwise).
    compact_at_ = std::max(compact_above, 2 * size_);
}

} // namespace ag::engine
