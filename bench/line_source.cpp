// The engine side of the log bench: waits for a start file, then prints numbered lines stamped with
// CLOCK_MONOTONIC nanoseconds, either as fast as it can (rate 0) or at a steady rate, to stdout or appended
// to a file; then idles so a supervisor does not restart it.
//   line_source START_FILE COUNT RATE [OUTPUT_FILE]
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

static std::uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

int main(int argc, char** argv) {
    if (argc < 4)
        return 2;
    const char* start = argv[1];
    long count = std::atol(argv[2]);
    long rate = std::atol(argv[3]);
    int fd = 1;
    if (argc > 4)
        fd = ::open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
    while (::access(start, F_OK) != 0)
        ::usleep(10000);
    std::string buf;
    auto flush = [&] {
        const char* p = buf.data();
        std::size_t n = buf.size();
        while (n) {
            ssize_t w = ::write(fd, p, n);
            if (w <= 0)
                std::exit(1);
            p += w;
            n -= std::size_t(w);
        }
        buf.clear();
    };
    std::uint64_t t0 = now_ns();
    char line[160];
    for (long i = 1; i <= count; ++i) {
        if (rate > 0) {
            std::uint64_t due = t0 + std::uint64_t(i - 1) * 1000000000u / std::uint64_t(rate);
            std::uint64_t now = now_ns();
            if (due > now) {
                flush();
                timespec d{time_t((due - now) / 1000000000u), long((due - now) % 1000000000u)};
                nanosleep(&d, nullptr);
            }
        }
        int n = std::snprintf(line, sizeof line,
                              "bench-line %ld ts=%llu payload-payload-payload-payload-payload\n", i,
                              (unsigned long long)now_ns());
        buf.append(line, std::size_t(n));
        if (rate > 0 || buf.size() >= 4096)
            flush();
    }
    flush();
    for (;;)
        ::pause();
}
