// The client side of the log bench: N WebSocket connections on one epoll thread, counting the text
// messages that carry "bench-line" and, from the ts= stamp in each, the delay from the engine's write to
// this read. A connection is done when it has read line number EXPECTED (the last one; a server may have
// dropped some before it for a slow reader); stops when all are done or after TIMEOUT seconds.
//   ws_fanout PORT PATH N EXPECTED TIMEOUT_S
// Prints: "delivered=<msgs> seconds=<first to last> rate=<msgs/s> p50_ms=<> p99_ms=<> lost=<msgs>
// done=<conns>"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static std::uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

struct conn {
    int fd = -1;
    bool upgraded = false;
    std::string in;
    long got = 0;
    long first = 0; // first line number read
    long last = 0;  // last line number read
    long gaps = 0;  // lines skipped between two consecutive reads
};

int main(int argc, char** argv) {
    if (argc < 6)
        return 2;
    int port = std::atoi(argv[1]);
    std::string path = argv[2];
    int n = std::atoi(argv[3]);
    long expected = std::atol(argv[4]);
    double timeout = std::atof(argv[5]);
    int ep = epoll_create1(0);
    std::vector<conn> conns(n);
    for (int i = 0; i < n; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (sockaddr*)&a, sizeof a) != 0) {
            perror("connect");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::string req = "GET " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        if (write(fd, req.data(), req.size()) != ssize_t(req.size()))
            return 1;
        conns[i].fd = fd;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = std::uint32_t(i);
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    std::vector<double> lat;
    lat.reserve(std::size_t(expected) * std::size_t(n) / 4 + 16);
    std::uint64_t first = 0, last = 0, total = 0;
    int done = 0;
    std::uint64_t deadline = now_ns() + std::uint64_t(timeout * 1e9);
    std::vector<char> buf(256 * 1024);
    std::vector<epoll_event> evs(256);
    std::uint64_t sample = 0;
    std::uint64_t dropped = 0; // as the server's drop markers report
    while (done < n && now_ns() < deadline) {
        int k = epoll_wait(ep, evs.data(), int(evs.size()), 100);
        for (int e = 0; e < k; ++e) {
            conn& c = conns[evs[e].data.u32];
            ssize_t r = read(c.fd, buf.data(), buf.size());
            if (r <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                ++done;
                continue;
            }
            c.in.append(buf.data(), std::size_t(r));
            std::size_t pos = 0;
            if (!c.upgraded) {
                auto end = c.in.find("\r\n\r\n");
                if (end == std::string::npos)
                    continue;
                c.upgraded = true;
                pos = end + 4;
            }
            std::uint64_t t = now_ns();
            while (c.in.size() - pos >= 2) {
                auto b1 = (unsigned char)c.in[pos + 1];
                std::size_t len = b1 & 0x7f, hdr = 2;
                if (len == 126) {
                    if (c.in.size() - pos < 4)
                        break;
                    len = ((unsigned char)c.in[pos + 2] << 8) | (unsigned char)c.in[pos + 3];
                    hdr = 4;
                } else if (len == 127) {
                    if (c.in.size() - pos < 10)
                        break;
                    len = 0;
                    for (int i = 0; i < 8; ++i)
                        len = (len << 8) | (unsigned char)c.in[pos + 2 + i];
                    hdr = 10;
                }
                if (c.in.size() - pos < hdr + len)
                    break;
                std::string_view payload(c.in.data() + pos + hdr, len);
                pos += hdr + len;
                auto at = payload.find("bench-line ");
                if (at == std::string_view::npos) {
                    auto d = payload.find(" entries dropped");
                    if (d != std::string_view::npos) {
                        auto m = payload.rfind('"', d);
                        dropped += std::strtoull(payload.data() + m + 1, nullptr, 10);
                    }
                    continue;
                }
                ++c.got;
                ++total;
                if (!first)
                    first = t;
                last = t;
                auto ts = payload.find("ts=", at);
                if (ts != std::string_view::npos && (sample++ % 4) == 0) {
                    std::uint64_t sent = std::strtoull(payload.data() + ts + 3, nullptr, 10);
                    lat.push_back(double(t - sent) / 1e6);
                }
                long number = std::strtol(payload.data() + at + 11, nullptr, 10);
                if (!c.first)
                    c.first = number;
                else if (number != c.last + 1)
                    c.gaps += number - c.last - 1;
                c.last = number;
                if (number == expected) {
                    ++done;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                    break;
                }
            }
            c.in.erase(0, pos);
        }
    }
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) {
        return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, std::size_t(p * lat.size()))];
    };
    double secs = first && last > first ? double(last - first) / 1e9 : 0;
    std::printf(
        "delivered=%llu seconds=%.3f rate=%.0f p50_ms=%.2f p99_ms=%.2f lost=%lld dropped=%llu done=%d\n",
        (unsigned long long)total, secs, secs > 0 ? double(total) / secs : 0.0, pct(0.50), pct(0.99),
        (long long)expected * n - (long long)total, (unsigned long long)dropped, done);
    long first_max = 0, gaps = 0;
    for (auto& c : conns) {
        first_max = std::max(first_max, c.first);
        gaps += c.gaps;
        close(c.fd);
    }
    if (std::getenv("FANOUT_DEBUG"))
        std::fprintf(stderr, "latest first line %ld, lines skipped inside streams %ld\n", first_max, gaps);
}
