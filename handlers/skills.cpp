#include "handlers/skills.hpp"

#include "util/text.hpp"

#include <dirent.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ag::skills {
namespace {

std::string unquote(std::string_view v) {
    v = text::trim(v);
    if (v.size() >= 2 && ((v.front() == '"' && v.back() == '"') || (v.front() == '\'' && v.back() == '\'')))
        return std::string(v.substr(1, v.size() - 2));
    return std::string(v);
}

} // namespace

front_matter parse_front_matter(std::string_view text) {
    front_matter fm;
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        lines.push_back(line);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    if (lines.empty() || text::trim(lines[0]) != "---")
        return fm;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        auto line = lines[i];
        if (text::trim(line) == "---")
            break;
        if (line.empty() || line[0] == ' ' || line[0] == '#')
            continue;
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        auto key = text::trim(line.substr(0, colon));
        auto value = text::trim(line.substr(colon + 1));
        std::string v;
        if (value == ">" || value == "|" || value == ">-" || value == "|-") {
            // A block scalar: the indented lines that follow.
            std::string sep = value[0] == '>' ? " " : "\n";
            while (i + 1 < lines.size() &&
                   (lines[i + 1].starts_with(" ") || lines[i + 1].starts_with("\t"))) {
                if (!v.empty())
                    v += sep;
                v += text::trim(lines[++i]);
            }
        } else {
            v = unquote(value);
        }
        if (key == "name")
            fm.name = v;
        else if (key == "description")
            fm.description = v;
    }
    return fm;
}

namespace {

// Reads the skills; `watch(path)` is called for each folder before it is read (so a change made while reading
// is still reported), and returns false when it cannot watch.
template <class Watch> std::vector<skill> read_skills(const std::string& workspace, Watch&& watch) {
    std::vector<skill> out;
    std::string dir = workspace + "/skills";
    watch(dir);
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return out;
    while (auto* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.empty() || name[0] == '.')
            continue;
        std::string folder = dir;
        folder.append("/").append(name);
        watch(folder);
        std::ifstream in(folder + "/SKILL.md");
        if (!in)
            continue;
        // Front matter is at the top; 64 KiB is plenty and bounds the work.
        std::string head(64 * 1024, '\0');
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        head.resize(static_cast<std::size_t>(in.gcount()));
        auto fm = parse_front_matter(head);
        out.push_back({name, fm.name.value_or(name), fm.description});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const skill& a, const skill& b) { return a.id < b.id; });
    return out;
}

constexpr std::uint32_t folder_events = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                        IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB;
constexpr std::size_t max_watches = 1000;

} // namespace

std::vector<skill> scan(const std::string& workspace) {
    return read_skills(workspace, [](const std::string&) {});
}

catalog::catalog(std::string workspace)
    : workspace_(std::move(workspace))
    , inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    // The workspace itself: for "skills" appearing, going or being renamed.
    if (inotify_ >= 0)
        workspace_watch_ = ::inotify_add_watch(
            inotify_, workspace_.c_str(), IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
}

catalog::~catalog() {
    if (inotify_ >= 0)
        ::close(inotify_);
}

bool catalog::drain_events() {
    bool changed = false;
    alignas(inotify_event) char buf[16 * 1024];
    for (;;) {
        ssize_t n = ::read(inotify_, buf, sizeof buf);
        if (n <= 0)
            break; // EAGAIN: nothing more queued
        for (ssize_t at = 0; at < n;) {
            auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            // A watch's end (IN_IGNORED) follows the event that mattered, or our own removal of it.
            if (ev->mask & IN_IGNORED)
                continue;
            // In the workspace's own folder only "skills" matters; IN_Q_OVERFLOW (wd -1) loses events.
            if (ev->wd == workspace_watch_ && !(ev->mask & IN_Q_OVERFLOW) &&
                std::string_view(ev->len ? ev->name : "") != "skills")
                continue;
            changed = true;
        }
    }
    return changed;
}

catalog::list catalog::cached() {
    std::lock_guard lock(mutex_);
    if (inotify_ < 0 || workspace_watch_ < 0 || !usable_)
        return nullptr;
    if (drain_events())
        dirty_ = true;
    return dirty_ ? nullptr : current_;
}

catalog::list catalog::rescan() {
    std::vector<int> watched;
    bool complete = inotify_ >= 0 && workspace_watch_ >= 0;
    {
        // Marked clean before reading: a change from here on is queued and makes the next cached() miss.
        std::lock_guard lock(mutex_);
        if (complete)
            drain_events();
        dirty_ = false;
        current_.reset(); // until this read is done, cached() misses rather than answer the old list
    }
    auto found =
        std::make_shared<const std::vector<skill>>(read_skills(workspace_, [&](const std::string& dir) {
            if (!complete)
                return;
            int wd = ::inotify_add_watch(inotify_, dir.c_str(), folder_events | IN_ONLYDIR);
            if (wd >= 0)
                watched.push_back(wd);
            else if (errno != ENOENT && errno != ENOTDIR)
                complete = false; // e.g. the watch limit: fall back to scanning every time
            if (watched.size() > max_watches)
                complete = false;
        }));
    std::lock_guard lock(mutex_);
    // Folders no longer read are no longer watched (the kernel drops those of deleted folders itself).
    for (int wd : watches_)
        if (std::find(watched.begin(), watched.end(), wd) == watched.end())
            ::inotify_rm_watch(inotify_, wd);
    watches_ = std::move(watched);
    usable_ = complete;
    current_ = found;
    return found;
}

} // namespace ag::skills
