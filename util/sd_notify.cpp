#include "util/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ag {

void notify_ready() noexcept {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return;
    std::string_view p = path;
    sockaddr_un addr{};
    if (p.size() >= sizeof addr.sun_path)
        return;
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, p.data(), p.size());
    if (p[0] == '@')
        addr.sun_path[0] = '\0'; // an abstract socket
    static constexpr char msg[] = "READY=1";
    ::sendto(fd, msg, sizeof msg - 1, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size()));
    ::close(fd);
}

} // namespace ag
