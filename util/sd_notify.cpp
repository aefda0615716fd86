#include "util/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace ag {

namespace {

// A whole decimal number, all of `text`; nullopt otherwise.
std::optional<std::uint64_t> parse_number(const char* text) {
    if (!text || !*text)
        return std::nullopt;
    std::string_view s = text;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return n;
}

} // namespace

bool sd_notify(std::string_view state) noexcept {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return false;
    std::string_view p = path;
    sockaddr_un addr{};
    if (p.size() >= sizeof addr.sun_path)
        return false;
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, p.data(), p.size());
    if (p[0] == '@')
        addr.sun_path[0] = '\0'; // an abstract socket
    ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                            static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size()));
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

void notify_ready() noexcept {
    sd_notify("READY=1");
}

std::optional<std::chrono::microseconds> watchdog_timeout() noexcept {
    auto usec = parse_number(std::getenv("WATCHDOG_USEC"));
    if (!usec || *usec == 0 || *usec > static_cast<std::uint64_t>(INT64_MAX))
        return std::nullopt;
    // systemd names the process it watches; a child that inherited the variables is not it.
    if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid) {
        auto n = parse_number(pid);
        if (!n || *n != static_cast<std::uint64_t>(::getpid()))
            return std::nullopt;
    }
    return std::chrono::microseconds(static_cast<std::int64_t>(*usec));
}

} // namespace ag
