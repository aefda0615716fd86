#include "app/state_lock.hpp"

#include "util/text.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace ag::app {

state_lock::state_lock(const std::string& state_dir) {
    const std::string path = state_dir + "/lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), path);
    // A daemon killed a moment ago holds the lock until the kernel has torn it down (its memory goes before
    // its files), so a start right after the kill waits for it to let go, up to 3 s.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int error = 0;
    for (;;) {
        if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
            error = 0;
            break;
        }
        error = errno;
        if (error == EINTR)
            continue;
        if (error != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (error != 0) {
        std::array<char, 32> buf{};
        const ssize_t n = ::pread(fd_, buf.data(), buf.size() - 1, 0);
        ::close(fd_);
        if (error != EWOULDBLOCK)
            throw std::system_error(error, std::generic_category(), "flock " + path);
        const auto holder = text::trim(std::string_view(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0));
        throw std::runtime_error(
            fmt::format("another agent-gateway{} serves the state directory {}: give each "
                        "daemon a --state-dir of its own",
                        holder.empty() ? "" : fmt::format(" (pid {})", holder), state_dir));
    }
    // Who holds it, for the message above. The lock, not the file's contents, is what counts: a write that
    // fails only leaves the pid out of that message.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) {
        [[maybe_unused]] ssize_t n = ::pwrite(fd_, pid.data(), pid.size(), 0);
    }
}

state_lock::~state_lock() {
    if (fd_ >= 0)
        ::close(fd_);
}

} // namespace ag::app
