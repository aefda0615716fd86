#include "util/atomic_file.hpp"
#include "util/scope_exit.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <system_error>

namespace ag::fs_util {
namespace {

[[noreturn]] void throw_errno(const std::string& what, int err = errno) {
    throw std::system_error(err, std::generic_category(), what);
}

class unique_fd {
public:
    explicit unique_fd(int fd = -1) noexcept
        : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    void reset(int fd) noexcept {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_;
};

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string random_suffix() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s(12, '0');
    for (auto& c : s)
        c = digits[rng() % 36];
    return s;
}

// A named temp file that is unlinked unless release()d.
struct named_temp {
    explicit named_temp(std::string p)
        : path(std::move(p)) {}
    named_temp(const named_temp&) = delete;
    named_temp& operator=(const named_temp&) = delete;
    std::string path;
    bool keep = false;
    ~named_temp() {
        if (!keep && !path.empty())
            ::unlink(path.c_str());
    }
};

} // namespace

void write_all(int fd, std::string_view bytes, const std::string& what) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_errno("write " + what);
        }
        bytes.remove_prefix(static_cast<size_t>(n));
    }
}

void fsync_dir(const std::string& dir) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0)
        throw_errno("fsync " + dir);
}

std::optional<std::string> read_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return std::nullopt;
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("read " + path);
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

void make_directories(const std::string& dir, mode_t mode) {
    if (dir.empty())
        return;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            throw_errno("mkdir " + dir, ENOTDIR);
        return;
    }
    auto parent = dir_of(dir);
    if (parent != dir)
        make_directories(parent, mode);
    if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
        throw_errno("mkdir " + dir);
}

void remove_leftover_temps(const std::string& path) {
    const std::string dir = dir_of(path);
    const std::string prefix = path.substr(path.rfind('/') + 1) + ".tmp-";
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return;
    while (auto* e = ::readdir(d))
        if (std::string_view(e->d_name).starts_with(prefix))
            ::unlinkat(::dirfd(d), e->d_name, 0);
    ::closedir(d);
}

void write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode) {
    auto dir = dir_of(path);
    named_temp tmp{path + ".tmp-" + random_suffix()};
    {
        unique_fd fd(::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
        if (fd.get() < 0) {
            tmp.path.clear();
            throw_errno("create " + path);
        }
        ::fchmod(fd.get(), mode); // the umask must not loosen or tighten what the caller asked for
        write_all(fd.get(), bytes, path);
        if (::fsync(fd.get()) != 0)
            throw_errno("fsync " + path);
    }
    if (::rename(tmp.path.c_str(), path.c_str()) != 0)
        throw_errno("rename " + path);
    tmp.keep = true;
    fsync_dir(dir);
}

std::string write_new_file(const std::string& dir, std::string_view bytes, mode_t mode,
                           const std::function<std::string(int)>& name_for, int max_attempts) {
    // Everything happens relative to the directory opened once, without following a symlink in its last
    // component: what the answer names is where the bytes went.
    unique_fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir_fd.get() < 0)
        throw_errno("open " + dir);
    // O_TMPFILE gives an unnamed inode: a crash before linkat leaves nothing at all, and linkat never
    // replaces.
    unique_fd fd(::openat(dir_fd.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
    std::string tmp_name;
    scope_exit cleanup([&] {
        if (!tmp_name.empty())
            ::unlinkat(dir_fd.get(), tmp_name.c_str(), 0);
    });
    if (fd.get() < 0) {
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            throw_errno("create in " + dir);
        // Filesystems without O_TMPFILE: a hidden named temp, linked into place, then removed.
        tmp_name = ".upload-" + random_suffix() + ".tmp";
        fd.reset(::openat(dir_fd.get(), tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
        if (fd.get() < 0) {
            tmp_name.clear();
            throw_errno("create in " + dir);
        }
    }
    int out = fd.get();
    ::fchmod(out, mode);
    write_all(out, bytes, dir);
    if (::fsync(out) != 0)
        throw_errno("fsync in " + dir);

    for (int i = 0; i < max_attempts; ++i) {
        std::string name = name_for(i);
        int rc;
        if (tmp_name.empty()) {
            std::string proc = "/proc/self/fd/" + std::to_string(out);
            rc = ::linkat(AT_FDCWD, proc.c_str(), dir_fd.get(), name.c_str(), AT_SYMLINK_FOLLOW);
        } else {
            rc = ::linkat(dir_fd.get(), tmp_name.c_str(), dir_fd.get(), name.c_str(), 0);
        }
        if (rc == 0) {
            if (::fsync(dir_fd.get()) != 0)
                throw_errno("fsync " + dir);
            return name;
        }
        if (errno != EEXIST)
            throw_errno(std::string("link ").append(dir).append("/").append(name));
    }
    throw_errno("no free name in " + dir, EEXIST);
}

} // namespace ag::fs_util
