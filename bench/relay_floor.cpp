// The floor under any user-space HTTP proxy on this machine: one thread, one epoll, each client connection
// paired with its own upstream connection, and bytes copied as they come (no parsing, no headers added, no
// pool). A request costs what every proxy pays at least: the client's read, the upstream write, the upstream
// read, the client write and their share of epoll_wait. bench/proxy runs it beside agent-gateway and nginx.
//   relay_floor LISTEN_PORT UPSTREAM_PORT
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <cstdio>
#include <cstdlib>
#include <unordered_map>

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

void no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Writes all of it; the sockets stay blocking (reads happen only once epoll said there is data).
bool write_all(int fd, const char* p, ssize_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, static_cast<size_t>(n));
        if (w <= 0)
            return false;
        p += w;
        n -= w;
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: relay_floor LISTEN_PORT UPSTREAM_PORT\n");
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN); // a client that leaves mid-answer is a failed write, not the relay's end
    const int upstream_port = std::atoi(argv[2]);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto addr = loopback(std::atoi(argv[1]));
    if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 1024) != 0) {
        std::perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::unordered_map<int, int> peer;
    static char buf[256 * 1024];
    epoll_event events[256];
    auto drop = [&](int fd) {
        int other = peer[fd];
        peer.erase(fd);
        peer.erase(other);
        close(fd);
        close(other);
    };
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c = accept(lfd, nullptr, nullptr);
                if (c < 0)
                    continue;
                int u = socket(AF_INET, SOCK_STREAM, 0);
                auto up = loopback(upstream_port);
                if (connect(u, reinterpret_cast<sockaddr*>(&up), sizeof up) != 0) {
                    close(c);
                    close(u);
                    continue;
                }
                no_delay(c);
                no_delay(u);
                peer[c] = u;
                peer[u] = c;
                for (int f : {c, u}) {
                    ev.events = EPOLLIN;
                    ev.data.fd = f;
                    epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev);
                }
                continue;
            }
            if (!peer.count(fd))
                continue; // closed earlier in this batch
            ssize_t got = read(fd, buf, sizeof buf);
            if (got <= 0 || !write_all(peer[fd], buf, got))
                drop(fd);
        }
    }
}
