#include "files/paths.hpp"

#include "gateway/errors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ag::files {

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = o.release();
    }
    return *this;
}

unique_fd::~unique_fd() {
    if (fd_ >= 0)
        ::close(fd_);
}

std::string normalise(std::string_view p, std::string_view root) {
    if (p.empty())
        throw api_error(error_kind::bad_request, "Missing path");
    if (p.find('\0') != std::string_view::npos)
        throw api_error(error_kind::bad_request, "Invalid path");
    std::string joined = p.front() == '/' ? std::string(p) : std::string(root) + "/" + std::string(p);
    std::vector<std::string_view> parts;
    std::string_view rest = joined;
    while (!rest.empty()) {
        auto slash = rest.find('/');
        std::string_view part = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (part.empty() || part == ".")
            continue;
        if (part == "..") {
            if (!parts.empty())
                parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (auto part : parts)
        out.append("/").append(part);
    return out.empty() ? "/" : out;
}

void throw_directory_error(int err) {
    if (err == ENOTDIR)
        throw api_error(error_kind::bad_request, "Not a directory");
    if (err == EACCES || err == EPERM)
        throw api_error(error_kind::forbidden, "Permission denied");
    throw api_error(error_kind::not_found, "File not found");
}

bool is_within(std::string_view path, std::string_view dir) {
    if (dir == "/")
        return true;
    return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

guard::guard(std::string_view root, std::string_view workspace, std::string_view state,
             const std::vector<std::string>& own_files) {
    std::string ws = normalise(workspace, root);
    trees_.push_back(normalise(state, root));
    trees_.push_back(ws + "/.git");
    for (const auto& f : own_files)
        trees_.push_back(normalise(f, root));
    keep_.push_back(ws);
}

void guard::check_write(std::string_view path) const {
    for (const auto& t : trees_)
        if (is_within(path, t))
            throw api_error(error_kind::forbidden, "The daemon's own files cannot be changed");
    for (const auto& k : keep_)
        if (path == k)
            throw api_error(error_kind::forbidden, "The workspace itself cannot be replaced");
}

void guard::check_remove(std::string_view path) const {
    for (const auto& k : keep_)
        if (is_within(k, path))
            throw api_error(error_kind::forbidden, "The workspace itself cannot be removed or moved");
    // An ancestor takes what it holds with it.
    for (const auto& t : trees_)
        if (is_within(path, t) || is_within(t, path))
            throw api_error(error_kind::forbidden, "The daemon's own files cannot be changed");
}

std::pair<std::string, std::string> split_parent(std::string_view path) {
    auto slash = path.rfind('/');
    std::string parent = slash == 0 ? std::string("/") : std::string(path.substr(0, slash));
    return {parent, std::string(path.substr(slash + 1))};
}

unique_fd open_dir_nofollow(std::string_view dir, std::string_view trusted, bool make) {
    std::string start = "/";
    std::string_view rest = dir;
    if (is_within(dir, trusted)) {
        start = std::string(trusted);
        rest = dir.substr(trusted.size());
    }
    // The trusted prefix is opened as configured, links and all.
    unique_fd fd(::open(start.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0)
        throw api_error(error_kind::not_found, "Parent directory not found")
            .with_detail("open " + start + ": " + std::to_string(errno));
    while (!rest.empty()) {
        auto slash = rest.find('/');
        std::string part(rest.substr(0, slash));
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (part.empty())
            continue;
        int next = ::openat(fd.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && make) {
            if (::mkdirat(fd.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
                throw api_error(error_kind::internal, "Cannot create a directory")
                    .with_detail("mkdir " + part + ": " + std::to_string(errno));
            next = ::openat(fd.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            int err = errno;
            struct stat st {};
            bool link =
                ::fstatat(fd.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
            if (link || err == ELOOP)
                throw api_error(error_kind::conflict, "Path goes through a symbolic link");
            if (err == ENOTDIR)
                throw api_error(error_kind::conflict, "Path goes through a file");
            if (err == ENOENT)
                throw api_error(error_kind::not_found, "Parent directory not found");
            if (err == EACCES || err == EPERM)
                throw api_error(error_kind::forbidden, "Permission denied");
            throw api_error(error_kind::internal, "Cannot open the directory")
                .with_detail("open " + part + ": " + std::to_string(err));
        }
        fd = unique_fd(next);
    }
    return fd;
}

} // namespace ag::files
