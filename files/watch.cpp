#include "files/watch.hpp"

#include "files/paths.hpp"

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <unordered_set>

namespace ag::files {
namespace {

// IN_ATTRIB counts as a modification: a chmod or a touch changes what a listing shows. IN_EXCL_UNLINK: a file
// still open after its unlink is gone for the client. IN_ONLYDIR: a directory replaced by a file meanwhile
// is not watched as one.
constexpr std::uint32_t watch_mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM |
                                     IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK |
                                     IN_ONLYDIR;

std::string join(const std::string& dir, std::string_view name) {
    std::string out = dir;
    if (out.empty() || out.back() != '/')
        out += '/';
    out += name;
    return out;
}

const char* type_name(change c) {
    switch (c) {
    case change::create:
        return "create";
    case change::modify:
        return "modify";
    case change::remove:
        return "delete";
    case change::move:
        return "move";
    case change::overflow:
        return "overflow";
    case change::error:
        return "error";
    }
    return "error";
}

const std::string& overflow_message() {
    static const std::string m = to_json(watch_event{change::overflow, {}, false, {}, {}});
    return m;
}

// Whether `d` may be skipped when a watch or a listing fails there: it vanished or changed kind meanwhile,
// or it is closed to the daemon (a subdirectory it cannot read has nothing it could report).
bool skippable(int err) {
    return err == ENOENT || err == ENOTDIR || err == ELOOP || err == EACCES || err == EPERM;
}

} // namespace

std::string to_json(const watch_event& e) {
    nlohmann::json j{{"type", type_name(e.type)}};
    if (e.type == change::error) {
        j["message"] = e.message;
        j["path"] = e.path;
    } else if (e.type != change::overflow) {
        j["path"] = e.path;
        j["isDir"] = e.is_dir;
        if (e.type == change::move)
            j["from"] = e.from;
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

tree_watch::tree_watch(std::string root, bool recursive)
    : root_(std::move(root))
    , recursive_(recursive)
    , fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "inotify_init1");
}

tree_watch::~tree_watch() {
    if (owned_ && fd_ >= 0)
        ::close(fd_);
}

int tree_watch::release_fd() noexcept {
    owned_ = false;
    return fd_;
}

added_tree tree_watch::add(const std::string& dir, bool scan) const {
    added_tree out;
    std::vector<std::string> todo{dir};
    while (!todo.empty()) {
        std::string d = std::move(todo.back());
        todo.pop_back();
        // The root is followed as the other file routes follow it; nothing below it is.
        const bool top = d == root_;
        int wd = ::inotify_add_watch(fd_, d.c_str(), watch_mask | (top ? 0 : IN_DONT_FOLLOW));
        if (wd < 0) {
            int err = errno;
            if (!top && skippable(err))
                continue;
            out.error = err;
            out.failed = d;
            return out;
        }
        out.watches.emplace_back(wd, d);
        if (!recursive_)
            break;
        // Listed after its watch is in place: what appears later is reported by the kernel, what was there
        // before by this listing (some things twice, nothing never).
        unique_fd dfd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (top ? 0 : O_NOFOLLOW)));
        if (dfd.get() < 0)
            continue;
        DIR* listing = ::fdopendir(dfd.get());
        if (!listing)
            continue;
        dfd.release();
        while (auto* e = ::readdir(listing)) {
            std::string_view name = e->d_name;
            if (name == "." || name == "..")
                continue;
            bool is_dir = e->d_type == DT_DIR;
            if (e->d_type == DT_UNKNOWN) {
                struct stat st {};
                is_dir = ::fstatat(::dirfd(listing), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISDIR(st.st_mode);
            }
            std::string child = join(d, name);
            if (scan && out.found.size() < scan_limit)
                out.found.push_back({change::create, child, is_dir, {}, {}});
            else if (scan)
                out.truncated = true;
            if (is_dir)
                todo.push_back(std::move(child));
        }
        ::closedir(listing);
    }
    return out;
}

void tree_watch::adopt(const added_tree& a, bool whole_tree) {
    if (whole_tree && a.error == 0) {
        std::unordered_set<int> seen;
        for (const auto& w : a.watches)
            seen.insert(w.first);
        for (auto it = dirs_.begin(); it != dirs_.end();) {
            if (seen.count(it->first) == 0) {
                ::inotify_rm_watch(fd_, it->first);
                it = dirs_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const auto& [wd, path] : a.watches) {
        dirs_[wd] = path;
        if (path == root_)
            root_wd_ = wd;
    }
}

watch_batch tree_watch::feed(std::string_view records) {
    watch_batch out;
    std::size_t at = 0;
    while (at + sizeof(inotify_event) <= records.size()) {
        inotify_event ev{};
        std::memcpy(&ev, records.data() + at, sizeof ev);
        at += sizeof ev;
        std::string_view name;
        if (ev.len > 0) {
            const char* p = records.data() + at;
            name = std::string_view(p, ::strnlen(p, std::min<std::size_t>(ev.len, records.size() - at)));
        }
        at += ev.len;

        if (ev.mask & IN_Q_OVERFLOW) {
            resolve_pending(out);
            out.events.push_back({change::overflow, {}, false, {}, {}});
            out.overflowed = true;
            continue;
        }
        // The kernel queues a move's two halves together: anything else first means it was a move out.
        if (pending_ && !((ev.mask & IN_MOVED_TO) && ev.cookie == pending_->cookie))
            resolve_pending(out);
        auto it = dirs_.find(ev.wd);
        if (it == dirs_.end())
            continue; // a watch already forgotten
        if (ev.wd == root_wd_ && (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED))) {
            out.events.push_back({change::remove, root_, true, {}, {}});
            out.root_gone = true;
            dirs_.erase(it);
            root_wd_ = -1;
            continue;
        }
        if (ev.mask & IN_IGNORED) {
            dirs_.erase(it);
            continue;
        }
        // A directory's own removal or move is reported by its parent's watch.
        if (name.empty())
            continue;
        std::string path = join(it->second, name);
        const bool is_dir = (ev.mask & IN_ISDIR) != 0;
        if (ev.mask & IN_CREATE) {
            out.events.push_back({change::create, path, is_dir, {}, {}});
            if (is_dir && recursive_)
                out.new_dirs.push_back(std::move(path));
        } else if (ev.mask & IN_DELETE) {
            out.events.push_back({change::remove, std::move(path), is_dir, {}, {}});
        } else if (ev.mask & (IN_MODIFY | IN_ATTRIB)) {
            // A writer's many writes in a row are one change for the client.
            const watch_event* last = out.events.empty() ? nullptr : &out.events.back();
            if (!last || last->type != change::modify || last->path != path)
                out.events.push_back({change::modify, std::move(path), is_dir, {}, {}});
        } else if (ev.mask & IN_MOVED_FROM) {
            pending_ = moved_from{ev.cookie, std::move(path), is_dir};
        } else if (ev.mask & IN_MOVED_TO) {
            if (pending_) {
                std::string from = std::move(pending_->path);
                pending_.reset();
                if (is_dir)
                    rename_below(from, path, out);
                // Moved before its watch was placed (add() found it gone): it is watched and scanned now.
                if (is_dir && recursive_ && !watched(path, out))
                    out.new_dirs.push_back(path);
                out.events.push_back({change::move, std::move(path), is_dir, std::move(from), {}});
            } else {
                // From outside the tree: a create, and a directory's content is scanned as a new one's.
                out.events.push_back({change::create, path, is_dir, {}, {}});
                if (is_dir && recursive_)
                    out.new_dirs.push_back(std::move(path));
            }
        }
    }
    return out;
}

watch_batch tree_watch::flush() {
    watch_batch out;
    resolve_pending(out);
    return out;
}

void tree_watch::resolve_pending(watch_batch& out) {
    if (!pending_)
        return;
    auto gone = std::move(*pending_);
    pending_.reset();
    if (gone.is_dir)
        forget_below(gone.path);
    out.events.push_back({change::remove, std::move(gone.path), gone.is_dir, {}, {}});
}

void tree_watch::forget_below(const std::string& dir) {
    // The kernel would go on reporting a directory moved out of the tree, under its old name.
    for (auto it = dirs_.begin(); it != dirs_.end();) {
        if (it->first != root_wd_ && is_within(it->second, dir)) {
            ::inotify_rm_watch(fd_, it->first);
            it = dirs_.erase(it);
        } else {
            ++it;
        }
    }
}

bool tree_watch::watched(const std::string& dir, const watch_batch& out) const {
    for (const auto& entry : dirs_)
        if (entry.second == dir)
            return true;
    return std::find(out.new_dirs.begin(), out.new_dirs.end(), dir) != out.new_dirs.end();
}

void tree_watch::rename_below(const std::string& from, const std::string& to, watch_batch& out) {
    auto renamed = [&](std::string& p) {
        if (is_within(p, from))
            p = to + p.substr(from.size());
    };
    for (auto& entry : dirs_)
        renamed(entry.second);
    // A directory created and moved within one read is watched under its new name.
    for (auto& d : out.new_dirs)
        renamed(d);
}

void event_queue::push(std::string message) {
    const bool is_overflow = message == overflow_message();
    if (is_overflow && !items_.empty() && items_.back() == message)
        return;
    if (bytes_ + message.size() > max_bytes_ && !items_.empty()) {
        items_.clear();
        bytes_ = 0;
        ++overflows_;
        if (!is_overflow) {
            items_.push_back(overflow_message());
            bytes_ = items_.back().size();
        }
    }
    bytes_ += message.size();
    items_.push_back(std::move(message));
}

std::string event_queue::pop() {
    std::string m = std::move(items_.front());
    items_.pop_front();
    bytes_ -= m.size();
    return m;
}

} // namespace ag::files
