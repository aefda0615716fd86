#include "snapshots/block_store.hpp"

#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace ag::snapshots {

block_store::block_store(std::string dir)
    : dir_(std::move(dir)) {
    fs_util::make_directories(dir_, 0700);
}

std::string block_store::path_of(const cid& id) const {
    // Two hex digits of the digest spread the files over 256 directories.
    static constexpr char hex[] = "0123456789abcdef";
    std::string sub{hex[id.digest[31] >> 4], hex[id.digest[31] & 15]};
    return dir_ + "/" + sub + "/" + id.to_string();
}

bool block_store::has(const cid& id) const {
    struct stat st {};
    return ::stat(path_of(id).c_str(), &st) == 0;
}

void block_store::put(const cid& id, std::string_view block) {
    const std::string path = path_of(id);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0)
        return;
    const std::string sub = path.substr(0, path.rfind('/'));
    ::mkdir(sub.c_str(), 0700);
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "block store: " + tmp);
    try {
        fs_util::write_all(fd, block, tmp);
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw std::system_error(e, std::generic_category(), "block store: " + path);
    }
    ++written_;
}

std::optional<std::string> block_store::get(const cid& id) const {
    auto bytes = fs_util::read_file(path_of(id));
    if (!bytes)
        return std::nullopt;
    std::string block = std::move(*bytes);
    if (cid_of(id.version, id.kind, block) != id)
        return std::nullopt;
    return block;
}

void block_store::sync() {
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::syncfs(fd);
        ::close(fd);
    }
}

} // namespace ag::snapshots
