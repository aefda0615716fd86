#pragma once
// A directory tree written as tar, tar.gz or zip with libarchive as it is read (docs/api.md §19): no temp
// file, memory bounded by one read buffer and the compressor's. Blocking: run it on the pool.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::files {

enum class archive_format { tar_gz, tar, zip };

// "tar.gz" (or "tgz"), "tar", "zip"; nullopt otherwise.
std::optional<archive_format> parse_archive_format(std::string_view s);
std::string_view archive_extension(archive_format f);
std::string_view archive_content_type(archive_format f);

// True when `rel` (the path below the archived directory, "a/b.txt") or its last component matches one of
// the fnmatch(3) patterns (no flags: `*` also matches '/').
bool excluded(std::string_view rel, const std::vector<std::string>& patterns);

// Archives the directory `dir_fd` (taken over) with every entry under `top/`: regular files, directories
// and symbolic links (stored as links, never followed), with their modes and mtimes; other kinds (FIFOs,
// sockets, devices) and entries that cannot be read are skipped and logged. `out` receives the bytes and
// returns false when the reader has gone (the walk stops). Throws std::runtime_error on a libarchive failure.
void write_archive(int dir_fd, const std::string& top, archive_format format,
                   const std::vector<std::string>& excludes,
                   const std::function<bool(std::string_view)>& out);

} // namespace ag::files
