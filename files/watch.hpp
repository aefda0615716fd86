#pragma once
// Watching a directory tree with inotify (docs/api.md §19): the kernel's records become create, modify,
// delete and move events named by absolute path, the two halves of a move paired by cookie, new directories
// watched as they appear. No Asio here: the caller reads fd() when it is readable and feeds what it read.
//
// Thread-safety: one owner thread calls feed(), flush() and adopt(); add() uses only the descriptor and the
// values it is given, so it may run on the blocking pool meanwhile.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ag::files {

enum class change { create, modify, remove, move, overflow, error };

struct watch_event {
    change type = change::create;
    std::string path; // absolute, normalised; for a move the new path
    bool is_dir = false;
    std::string from;    // a move's old path
    std::string message; // an error's text
};

// One WebSocket text message: {"type","path","isDir","from"?}, {"type":"overflow"} or {"type":"error",
// "message","path"}. Names that are not UTF-8 carry U+FFFD.
std::string to_json(const watch_event& e);

// What add() did: the watches it placed and, when asked to scan, a create for everything already below the
// directory (what appeared before its watch did).
struct added_tree {
    std::vector<std::pair<int, std::string>> watches;
    std::vector<watch_event> found;
    bool truncated = false; // the scan stopped at scan_limit: the caller reports an overflow instead
    int error = 0;          // errno of the add that failed and stopped the walk (0: none)
    std::string failed;     // the directory it failed at
};

// What one read of records means.
struct watch_batch {
    std::vector<watch_event> events;
    std::vector<std::string> new_dirs; // to add() with a scan (recursive watches only)
    bool overflowed = false;           // the kernel dropped records: watch the whole tree again
    bool root_gone = false;            // the watched directory was removed, moved or unmounted
};

class tree_watch {
public:
    // The most entries one scan of a new directory reports before it gives up for an overflow.
    static constexpr std::size_t scan_limit = 10000;

    // Opens an inotify instance (close-on-exec, non-blocking) for the tree at `root` (normalised); throws
    // std::system_error (EMFILE: the kernel's fs.inotify.max_user_instances is reached).
    tree_watch(std::string root, bool recursive);
    ~tree_watch();
    tree_watch(const tree_watch&) = delete;
    tree_watch& operator=(const tree_watch&) = delete;

    // The inotify descriptor. After release_fd() its new owner closes it; fd() still names it for add().
    int fd() const noexcept { return fd_; }
    int release_fd() noexcept;
    const std::string& root() const noexcept { return root_; }
    bool recursive() const noexcept { return recursive_; }

    // Blocking (disk walk): watches `dir` and, when recursive, every directory below it, never following a
    // symbolic link below the root. With `scan`, also reports what is below `dir`. A directory that vanishes
    // during the walk is skipped; any other failure stops the walk (see added_tree::error).
    added_tree add(const std::string& dir, bool scan) const;
    // Records what add() placed. `whole_tree`: it walked the root again, and watches it did not find again
    // are for directories gone or moved away while records were lost; they are removed.
    void adopt(const added_tree& a, bool whole_tree);

    // The records of one read (a read returns whole records).
    watch_batch feed(std::string_view records);
    // Whether the last record read was the first half of a move, its second half not read yet.
    bool move_pending() const noexcept { return pending_.has_value(); }
    // The second half did not come: it was a move out of the tree, a delete.
    watch_batch flush();

    std::size_t watch_count() const noexcept { return dirs_.size(); }

private:
    struct moved_from {
        std::uint32_t cookie = 0;
        std::string path;
        bool is_dir = false;
    };
    void resolve_pending(watch_batch& out);
    void forget_below(const std::string& dir); // removes the watches of `dir` and below
    void rename_below(const std::string& from, const std::string& to, watch_batch& out);
    bool watched(const std::string& dir, const watch_batch& out) const; // has a watch, or is about to

    std::string root_;
    bool recursive_;
    int fd_ = -1;
    bool owned_ = true;
    int root_wd_ = -1;
    std::unordered_map<int, std::string> dirs_; // watch descriptor → directory
    std::optional<moved_from> pending_;
};

// The messages waiting for one client, bounded as the log stream's (docs/api.md §7): past `max_bytes` what
// waits is dropped and one overflow message stands in for it (the client lists again), so a client that
// stops reading holds at most `max_bytes` of the daemon's memory.
class event_queue {
public:
    explicit event_queue(std::size_t max_bytes)
        : max_bytes_(max_bytes) {}
    void push(std::string message);
    bool empty() const noexcept { return items_.empty(); }
    std::string pop();
    std::size_t bytes() const noexcept { return bytes_; }
    std::uint64_t overflows() const noexcept { return overflows_; }

private:
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::uint64_t overflows_ = 0;
    std::deque<std::string> items_;
};

} // namespace ag::files
