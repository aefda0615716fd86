#pragma once
// Where a write, a removal or a move may go (docs/api.md §19): paths normalised as text, the daemon's own
// files guarded, parent directories opened without ever following a symbolic link. Blocking (syscalls):
// call from the pool. Throws api_error with the answer the client gets.
#include <string>
#include <string_view>
#include <vector>

namespace ag::files {

// An open descriptor, closed when it goes.
class unique_fd {
public:
    explicit unique_fd(int fd = -1) noexcept
        : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept
        : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd();
    int get() const noexcept { return fd_; }
    int release() noexcept {
        int f = fd_;
        fd_ = -1;
        return f;
    }

private:
    int fd_;
};

// `p` (relative to `root`, or absolute) as an absolute path without ".", ".." or repeated slashes, resolved
// as text ("a/../b" is "b"; ".." above "/" stays at "/"). Throws 400 for an empty path or a NUL in it.
std::string normalise(std::string_view p, std::string_view root);

// True when `path` is `dir` or below it (both normalised).
bool is_within(std::string_view path, std::string_view dir);

// What requests may not write, remove or move: WORKSPACE itself (its content is fair game), STATE and
// WORKSPACE/.git with all they hold, and the daemon's own files (token, config, TLS and platform keys).
class guard {
public:
    guard(std::string_view root, std::string_view workspace, std::string_view state,
          const std::vector<std::string>& own_files);
    // Throws 403 when writing `path` (normalised) would replace or create a guarded file.
    void check_write(std::string_view path) const;
    // Throws 403 when removing or moving `path` away would take a guarded path with it.
    void check_remove(std::string_view path) const;

private:
    std::vector<std::string> trees_; // nothing at or below may change
    std::vector<std::string> keep_;  // may not be removed or moved with an ancestor (WORKSPACE itself)
};

// The directory `dir` (normalised), opened one component at a time with O_NOFOLLOW below `trusted` (ROOT,
// which the operator chose and may itself hold links) or below "/" when `dir` is outside it. A symbolic
// link on the way → 409 "Path goes through a symbolic link"; a file on the way → 409; a missing component
// → 404 "Parent directory not found", or created (0755) when `make` is set.
unique_fd open_dir_nofollow(std::string_view dir, std::string_view trusted, bool make);

// The answer for a directory that could not be opened (or watched) with `err`: 400 "Not a directory", 403
// "Permission denied", else 404 "File not found" (the archive and watch routes).
[[noreturn]] void throw_directory_error(int err);

// "/a/b/c" → {"/a/b", "c"}; "/x" → {"/", "x"}. `path` is normalised and not "/".
std::pair<std::string, std::string> split_parent(std::string_view path);

} // namespace ag::files
