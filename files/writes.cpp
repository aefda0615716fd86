#include "files/writes.hpp"

#include "gateway/errors.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <random>
#include <system_error>

namespace ag::files {
namespace {

std::string random_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s(16, '0');
    for (auto& c : s)
        c = digits[rng() % 36];
    return s;
}

std::string pending_dir(const std::string& state_dir) {
    return state_dir + "/put-pending";
}

[[noreturn]] void fail_io(const char* what, int err) {
    if (err == ENOSPC || err == EDQUOT)
        throw api_error(error_kind::internal, "No space left on the device");
    if (err == EACCES || err == EPERM)
        throw api_error(error_kind::forbidden, "Permission denied");
    throw api_error(error_kind::internal, "Write failed")
        .with_detail(std::string(what) + ": errno " + std::to_string(err));
}

std::optional<struct stat> stat_at(int dir, const std::string& name) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return st;
    if (errno != ENOENT)
        fail_io("stat", errno);
    return std::nullopt;
}

} // namespace

put_target::put_target(const std::string& path, const std::string& trusted_root, std::string state_dir,
                       bool mkdirs, bool create_only, precondition holds)
    : state_dir_(std::move(state_dir))
    , create_only_(create_only)
    , holds_(std::move(holds)) {
    auto [parent, name] = split_parent(path);
    name_ = name;
    dir_ = open_dir_nofollow(parent, trusted_root, mkdirs);
    auto now = stat_at(dir_.get(), name_);
    if (now && S_ISDIR(now->st_mode))
        throw api_error(error_kind::conflict, "A directory is in the way");
    if (!holds_(now ? &*now : nullptr))
        throw api_error(error_kind::precondition_failed, "Precondition failed");
    // A replaced file keeps its permissions; a new one is 0644.
    mode_t mode = now && S_ISREG(now->st_mode) ? (now->st_mode & 07777) : 0644;
    file_ = unique_fd(::openat(dir_.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
    if (file_.get() < 0) {
        int err = errno;
        if (err != EOPNOTSUPP && err != EISDIR && err != EINVAL)
            fail_io("create", err);
        // No O_TMPFILE here: a named temp from the start, recorded first.
        std::string temp = ".agw-put-" + random_id() + ".tmp";
        fs_util::make_directories(pending_dir(state_dir_), 0700);
        record_ = pending_dir(state_dir_) + "/" + random_id();
        fs_util::write_file_atomic(record_, parent + "/" + temp + "\n", 0600);
        file_ = unique_fd(::openat(dir_.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
        if (file_.get() < 0) {
            err = errno;
            remove_record();
            fail_io("create", err);
        }
        named_temp_ = temp;
    }
    ::fchmod(file_.get(), mode); // the umask must not change what is kept
}

put_target::~put_target() {
    if (!committed_ && !named_temp_.empty())
        ::unlinkat(dir_.get(), named_temp_.c_str(), 0);
    remove_record();
}

void put_target::remove_record() noexcept {
    if (!record_.empty())
        ::unlink(record_.c_str());
    record_.clear();
}

void put_target::write(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_io("write", errno);
        bytes.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<std::uint64_t>(n);
    }
}

put_target::result put_target::commit() {
    if (::fsync(file_.get()) != 0)
        fail_io("fsync", errno);
    // Checked again just before the rename: a change since the request began fails it.
    auto now = stat_at(dir_.get(), name_);
    if (now && S_ISDIR(now->st_mode))
        throw api_error(error_kind::conflict, "A directory is in the way");
    if (!holds_(now ? &*now : nullptr))
        throw api_error(error_kind::precondition_failed, "Precondition failed");
    result out;
    out.created = !now;
    const std::string proc = "/proc/self/fd/" + std::to_string(file_.get());
    if (create_only_) {
        // Linking never replaces: a file that appeared since the check fails here (412), race-free.
        int rc =
            named_temp_.empty()
                ? ::linkat(AT_FDCWD, proc.c_str(), dir_.get(), name_.c_str(), AT_SYMLINK_FOLLOW)
                : ::renameat2(dir_.get(), named_temp_.c_str(), dir_.get(), name_.c_str(), RENAME_NOREPLACE);
        if (rc != 0 && errno == EEXIST)
            throw api_error(error_kind::precondition_failed, "Precondition failed");
        if (rc != 0)
            fail_io("link", errno);
        out.created = true;
    } else {
        if (named_temp_.empty()) {
            std::string temp = ".agw-put-" + random_id() + ".tmp";
            fs_util::make_directories(pending_dir(state_dir_), 0700);
            record_ = pending_dir(state_dir_) + "/" + random_id();
            // Not fsynced: it guards against the process dying, which leaves the page cache intact.
            char dir_path[64];
            std::snprintf(dir_path, sizeof dir_path, "/proc/self/fd/%d", dir_.get());
            char real[4096];
            ssize_t n = ::readlink(dir_path, real, sizeof real - 1);
            if (n <= 0)
                fail_io("readlink", errno);
            real[n] = '\0';
            std::string line = std::string(real) + "/" + temp + "\n";
            FILE* f = std::fopen(record_.c_str(), "we");
            if (!f)
                fail_io("record", errno);
            std::fputs(line.c_str(), f);
            std::fclose(f);
            if (::linkat(AT_FDCWD, proc.c_str(), dir_.get(), temp.c_str(), AT_SYMLINK_FOLLOW) != 0)
                fail_io("link", errno);
            named_temp_ = temp;
        }
        if (::renameat(dir_.get(), named_temp_.c_str(), dir_.get(), name_.c_str()) != 0) {
            int err = errno;
            if (err == EISDIR)
                throw api_error(error_kind::conflict, "A directory is in the way");
            fail_io("rename", err);
        }
    }
    committed_ = true;
    named_temp_.clear();
    remove_record();
    if (::fsync(dir_.get()) != 0)
        fail_io("fsync directory", errno);
    if (::fstat(file_.get(), &out.st) != 0)
        fail_io("stat", errno);
    return out;
}

void recover_puts(const std::string& state_dir) {
    const std::string dir = pending_dir(state_dir);
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return;
    while (auto* e = ::readdir(d)) {
        std::string_view id = e->d_name;
        if (id == "." || id == "..")
            continue;
        std::string record = dir + "/" + std::string(id);
        try {
            auto line = fs_util::read_file(record);
            if (line && !line->empty() && line->back() == '\n') {
                line->pop_back();
                // Only ever a temp of ours: the name is checked before anything is removed.
                auto slash = line->rfind('/');
                std::string_view base = std::string_view(*line).substr(slash + 1);
                if (slash != std::string::npos && base.starts_with(".agw-put-") && base.ends_with(".tmp") &&
                    ::unlink(line->c_str()) == 0)
                    log::info("removed {}, left by an interrupted PUT", *line);
            }
        } catch (const std::exception& ex) {
            log::warn("PUT record {}: {}", record, ex.what());
        }
        ::unlink(record.c_str());
    }
    ::closedir(d);
}

namespace {

// Removes what the directory `fd` holds (taking ownership of `fd`); returns how many entries went.
std::uint64_t empty_tree(int fd) {
    DIR* d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        fail_io("opendir", errno);
    }
    std::uint64_t removed = 0;
    std::unique_ptr<DIR, int (*)(DIR*)> close_it(d, ::closedir);
    while (auto* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..")
            continue;
        removed += remove_entry(::dirfd(d), std::string(name), true);
    }
    return removed;
}

} // namespace

std::uint64_t remove_entry(int dir, const std::string& name, bool recursive) {
    auto st = stat_at(dir, name);
    if (!st)
        throw api_error(error_kind::not_found, "File not found");
    if (!S_ISDIR(st->st_mode)) {
        if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT)
            fail_io("unlink", errno);
        return 1;
    }
    std::uint64_t removed = 0;
    if (recursive) {
        int sub = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            fail_io("open", errno);
        removed += empty_tree(sub);
    }
    if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST)
            throw api_error(error_kind::conflict, "Directory not empty (use recursive=true)");
        fail_io("rmdir", errno);
    }
    return removed + 1;
}

void move_entry(int from_dir, const std::string& from, int to_dir, const std::string& to, bool overwrite) {
    if (!stat_at(from_dir, from))
        throw api_error(error_kind::not_found, "File not found");
    int rc = ::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), overwrite ? 0 : RENAME_NOREPLACE);
    if (rc != 0 && errno == EINVAL && !overwrite) {
        // A file system without RENAME_NOREPLACE: checked, then renamed (a small race, said in the docs).
        if (stat_at(to_dir, to))
            throw api_error(error_kind::conflict, "Destination exists");
        rc = ::renameat(from_dir, from.c_str(), to_dir, to.c_str());
    }
    if (rc == 0)
        return;
    switch (errno) {
    case EEXIST:
        throw api_error(error_kind::conflict, "Destination exists");
    case ENOTEMPTY:
        throw api_error(error_kind::conflict, "Destination is a directory that is not empty");
    case EISDIR:
    case ENOTDIR:
        throw api_error(error_kind::conflict,
                        "Cannot replace a directory with a file or a file with a directory");
    case EINVAL:
        throw api_error(error_kind::bad_request, "Cannot move a directory into itself");
    case EXDEV:
        throw api_error(error_kind::conflict, "Cannot move across file systems");
    case ENOENT:
        throw api_error(error_kind::not_found, "File not found");
    default:
        fail_io("rename", errno);
    }
}

} // namespace ag::files
