#include "files/archive.hpp"

#include "util/log.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <stdexcept>

namespace ag::files {

std::optional<archive_format> parse_archive_format(std::string_view s) {
    if (s == "tar.gz" || s == "tgz")
        return archive_format::tar_gz;
    if (s == "tar")
        return archive_format::tar;
    if (s == "zip")
        return archive_format::zip;
    return std::nullopt;
}

std::string_view archive_extension(archive_format f) {
    switch (f) {
    case archive_format::tar_gz:
        return "tar.gz";
    case archive_format::tar:
        return "tar";
    case archive_format::zip:
        return "zip";
    }
    return "tar";
}

std::string_view archive_content_type(archive_format f) {
    switch (f) {
    case archive_format::tar_gz:
        return "application/gzip";
    case archive_format::tar:
        return "application/x-tar";
    case archive_format::zip:
        return "application/zip";
    }
    return "application/octet-stream";
}

bool excluded(std::string_view rel, const std::vector<std::string>& patterns) {
    std::string path(rel);
    auto slash = rel.rfind('/');
    std::string base(slash == std::string_view::npos ? rel : rel.substr(slash + 1));
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
        return ::fnmatch(p.c_str(), path.c_str(), 0) == 0 || ::fnmatch(p.c_str(), base.c_str(), 0) == 0;
    });
}

namespace {

struct writer_state {
    const std::function<bool(std::string_view)>* out = nullptr;
    bool gone = false;
};

la_ssize_t on_write(struct archive* a, void* client, const void* buf, size_t n) {
    auto* s = static_cast<writer_state*>(client);
    if (!(*s->out)(std::string_view(static_cast<const char*>(buf), n))) {
        s->gone = true;
        archive_set_error(a, ECONNRESET, "the client went away");
        return -1;
    }
    return static_cast<la_ssize_t>(n);
}

struct archive_deleter {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
struct entry_deleter {
    void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

class tree_writer {
public:
    tree_writer(struct archive* a, const std::vector<std::string>& excludes, writer_state& state)
        : a_(a)
        , excludes_(excludes)
        , state_(state)
        , entry_(archive_entry_new()) {}

    // Walks the directory `fd` (taken over); `rel` is its path below the top ("" for the top itself).
    void walk(int fd, const std::string& top, const std::string& rel) {
        DIR* d = ::fdopendir(fd);
        if (!d) {
            ::close(fd);
            log::warn("archive: cannot list {}/{}: errno {}", top, rel, errno);
            return;
        }
        std::unique_ptr<DIR, int (*)(DIR*)> hold(d, ::closedir);
        // Sorted names: the same tree gives the same archive.
        std::vector<std::string> names;
        while (auto* e = ::readdir(d)) {
            std::string_view n = e->d_name;
            if (n != "." && n != "..")
                names.emplace_back(n);
        }
        std::sort(names.begin(), names.end());
        for (const auto& name : names) {
            if (state_.gone)
                return;
            std::string child = rel;
            if (!child.empty())
                child += '/';
            child += name;
            if (excluded(child, excludes_))
                continue;
            struct stat st {};
            if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue; // removed while we looked
            std::string path = top;
            path.append("/").append(child);
            if (S_ISDIR(st.st_mode)) {
                int sub = ::openat(::dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                    log::warn("archive: cannot open {}: errno {}", path, errno);
                    continue;
                }
                header(path + "/", st, nullptr);
                walk(sub, top, child);
            } else if (S_ISLNK(st.st_mode)) {
                std::string target(static_cast<std::size_t>(std::max<off_t>(st.st_size, 0)) + 1, '\0');
                ssize_t n = ::readlinkat(::dirfd(d), name.c_str(), target.data(), target.size());
                if (n < 0) {
                    log::warn("archive: cannot read the link {}: errno {}", path, errno);
                    continue;
                }
                target.resize(static_cast<std::size_t>(n));
                header(path, st, &target);
            } else if (S_ISREG(st.st_mode)) {
                file(::dirfd(d), name, path, st);
            } else {
                log::info("archive: skipped {} (not a file, directory or link)", path);
            }
        }
    }

    void top_header(const std::string& top, int fd) {
        struct stat st {};
        if (::fstat(fd, &st) == 0)
            header(top + "/", st, nullptr);
    }

private:
    void check(int rc) {
        if (rc < ARCHIVE_WARN && !state_.gone)
            throw std::runtime_error(std::string("archive: ") + archive_error_string(a_));
    }

    void header(const std::string& path, const struct stat& st, const std::string* link_target) {
        archive_entry_clear(entry_.get());
        archive_entry_set_pathname(entry_.get(), path.c_str());
        archive_entry_copy_stat(entry_.get(), &st);
        if (!S_ISREG(st.st_mode))
            archive_entry_set_size(entry_.get(), 0);
        if (link_target)
            archive_entry_set_symlink(entry_.get(), link_target->c_str());
        check(archive_write_header(a_, entry_.get()));
    }

    void file(int dir, const std::string& name, const std::string& path, const struct stat& st) {
        int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
            log::warn("archive: cannot open {}: errno {}", path, errno);
            return;
        }
        std::unique_ptr<int, void (*)(int*)> hold(&fd, [](int* f) { ::close(*f); });
        header(path, st, nullptr);
        // Exactly the size in the header: a file that grew is cut there, one that shrank is padded by
        // libarchive at the entry's end.
        auto left = static_cast<std::uint64_t>(st.st_size);
        while (left > 0 && !state_.gone) {
            ssize_t n =
                ::read(fd, buf_, static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf_, left)));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n < 0)
                    log::warn("archive: read {}: errno {}", path, errno);
                break;
            }
            la_ssize_t w = archive_write_data(a_, buf_, static_cast<std::size_t>(n));
            if (w < 0)
                check(ARCHIVE_FATAL);
            left -= static_cast<std::uint64_t>(n);
        }
        check(archive_write_finish_entry(a_));
    }

    struct archive* a_;
    const std::vector<std::string>& excludes_;
    writer_state& state_;
    std::unique_ptr<struct archive_entry, entry_deleter> entry_;
    char buf_[128 * 1024]{};
};

} // namespace

void write_archive(int dir_fd, const std::string& top, archive_format format,
                   const std::vector<std::string>& excludes,
                   const std::function<bool(std::string_view)>& out) {
    std::unique_ptr<struct archive, archive_deleter> a(archive_write_new());
    writer_state state{&out};
    auto check = [&](int rc) {
        if (rc < ARCHIVE_WARN)
            throw std::runtime_error(std::string("archive: ") + archive_error_string(a.get()));
    };
    if (format == archive_format::zip) {
        check(archive_write_set_format_zip(a.get()));
    } else {
        // POSIX pax: long names, large files, sub-second mtimes.
        check(archive_write_set_format_pax_restricted(a.get()));
        if (format == archive_format::tar_gz)
            check(archive_write_add_filter_gzip(a.get()));
        archive_write_set_bytes_in_last_block(a.get(), 1);
    }
    check(archive_write_set_bytes_per_block(a.get(), 64 * 1024));
    check(archive_write_open2(a.get(), &state, nullptr, on_write, nullptr, nullptr));
    auto walker = std::make_unique<tree_writer>(a.get(), excludes, state);
    walker->top_header(top, dir_fd);
    walker->walk(dir_fd, top, "");
    if (state.gone)
        return;
    check(archive_write_close(a.get()));
}

} // namespace ag::files
