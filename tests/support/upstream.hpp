#pragma once
// A real HTTP/1.1 service on loopback for the proxy tests: tests/support/upstream.py in its own process,
// started per test case (it starts in ~50 ms) and gone with the object.
#include <sys/types.h>

#include <string>

namespace test {

class upstream_service {
public:
    upstream_service(); // waits (bounded, 10 s) for its port
    ~upstream_service();
    upstream_service(const upstream_service&) = delete;
    upstream_service& operator=(const upstream_service&) = delete;
    int port() const { return port_; }

private:
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    int port_ = 0;
};

} // namespace test
