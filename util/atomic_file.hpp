#pragma once
// Crash-safe file writes: the file appears complete or not at all. Every file the daemon writes goes through
// here.
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ag::fs_util {

// Replaces `path` atomically: temp file in the same directory, write, fsync, rename, fsync the directory.
// Throws std::system_error; on failure nothing new is left behind.
void write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode = 0644);

// Removes the temp files write_file_atomic(path) leaves when the process is killed between creating one and
// its rename ("<path>.tmp-*"). For the owner of `path`, at start, before it writes.
void remove_leftover_temps(const std::string& path);

// Creates a new file in `dir` without ever replacing an existing one. `name_for(i)` gives the candidate name
// for attempt i (0, 1, 2, ...); the first name not taken wins. Returns the chosen name. Throws
// std::system_error (EEXIST after `max_attempts`; ELOOP when `dir` is a symbolic link, which is never
// followed); on failure nothing is left behind.
std::string write_new_file(const std::string& dir, std::string_view bytes, mode_t mode,
                           const std::function<std::string(int)>& name_for, int max_attempts = 10000);

// Writes all of `bytes` to `fd` (retrying short writes and EINTR). Throws std::system_error naming `what`.
void write_all(int fd, std::string_view bytes, const std::string& what);

// Makes the directory's entries (a rename, a new file) durable. Throws std::system_error.
void fsync_dir(const std::string& dir);

// The whole file; nullopt when it cannot be opened. Throws std::system_error on a read error.
std::optional<std::string> read_file(const std::string& path);

// Makes `dir` and its parents (like mkdir -p). Throws std::system_error.
void make_directories(const std::string& dir, mode_t mode = 0755);

} // namespace ag::fs_util
