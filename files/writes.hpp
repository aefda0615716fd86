#pragma once
// Whole-file writes, removals and moves in the agent's tree (docs/api.md §19). Every call blocks (disk,
// fsync): run it on the pool. Throws api_error with the answer the client gets.
#include "files/paths.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ag::files {

// Says whether the request's preconditions hold for what is at the target now (nullptr: nothing there).
using precondition = std::function<bool(const struct stat*)>;

// A file being replaced: its bytes go to an unnamed inode in the target's directory (O_TMPFILE), so a crash
// before commit() leaves nothing anywhere; commit() links it under a temp name and renames it over the
// target. The temp name is recorded under STATE first, so a crash in that instant leaves a record that
// recover_puts() acts on at the next start. One request at a time; not thread-safe.
class put_target {
public:
    // Opens the parent directory (without following links; created with `mkdirs`), checks `holds` against
    // what is there (412 "Precondition failed"; a directory there → 409), creates the unnamed file.
    put_target(const std::string& path, const std::string& trusted_root, std::string state_dir, bool mkdirs,
               bool create_only, precondition holds);
    put_target(const put_target&) = delete;
    put_target& operator=(const put_target&) = delete;
    ~put_target(); // discards what was not committed

    void write(std::string_view bytes);
    std::uint64_t size() const { return size_; }

    struct result {
        bool created = false;
        struct stat st {};
    };
    // fsync, the precondition once more, rename (or link without replacing, for create_only), fsync of the
    // directory.
    result commit();

private:
    void remove_record() noexcept;

    std::string state_dir_;
    std::string name_;
    unique_fd dir_;
    unique_fd file_;
    std::string
        named_temp_;     // set while a named temp exists (after link, or on file systems without O_TMPFILE)
    std::string record_; // STATE/put-pending/<id> while it exists
    bool create_only_;
    precondition holds_;
    std::uint64_t size_ = 0;
    bool committed_ = false;
};

// Removes the temp files named by records a killed daemon left under STATE/put-pending. At start, before
// serving.
void recover_puts(const std::string& state_dir);

// Removes `name` in the open directory `dir`: a file or link, an empty directory, or with `recursive` a
// whole tree (links removed, never followed). Returns how many entries went. 404 missing, 409 not empty.
std::uint64_t remove_entry(int dir, const std::string& name, bool recursive);

// rename(2) from (dir, name) to (dir, name); without `overwrite`, 409 when the target exists.
void move_entry(int from_dir, const std::string& from, int to_dir, const std::string& to, bool overwrite);

} // namespace ag::files
