// runtime/watchdog: WATCHDOG=1 reaches $NOTIFY_SOCKET at half of $WATCHDOG_USEC while the loop turns, and
// none while a handler blocks it; without a watchdog asked for (or one meant for another pid) nothing is
// sent.
#include "runtime/watchdog.hpp"

#include "runtime/net.hpp"
#include "support/temp_dir.hpp"
#include "util/sd_notify.hpp"

#include <boost/asio/post.hpp>
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <optional>
#include <string>
#include <thread>

using namespace ag;
using namespace std::chrono_literals;
using namespace ag::net;

namespace {

// The manager's end: a unix datagram socket the test binds, as systemd's $NOTIFY_SOCKET.
struct notify_socket {
    test::temp_dir dir;
    std::string path = dir / "notify";
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    notify_socket() {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~notify_socket() { ::close(fd); }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    // The next datagram, waiting at most `within`.
    std::optional<std::string> receive(std::chrono::milliseconds within) const {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(within.count())) != 1)
            return std::nullopt;
        char buf[256];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n < 0 ? std::nullopt
                     : std::optional<std::string>(std::string(buf, static_cast<std::size_t>(n)));
    }
    // Discards what has arrived so far.
    void drain() const {
        while (receive(0ms)) {
        }
    }
};

// Sets (or, with nullptr, removes) an environment variable for one test case.
struct env_var {
    std::string name;
    std::optional<std::string> old;
    env_var(std::string n, const char* value)
        : name(std::move(n)) {
        if (const char* v = std::getenv(name.c_str()))
            old = v;
        if (value)
            ::setenv(name.c_str(), value, 1);
        else
            ::unsetenv(name.c_str());
    }
    ~env_var() {
        if (old)
            ::setenv(name.c_str(), old->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
    env_var(const env_var&) = delete;
    env_var& operator=(const env_var&) = delete;
};

// Runs `ioc` on a thread of its own; at the end, stops the watchdog on that thread and joins.
struct loop_thread {
    asio::io_context& ioc;
    watchdog& dog;
    std::thread thread;
    loop_thread(asio::io_context& i, watchdog& d)
        : ioc(i)
        , dog(d) {
        asio::post(ioc, [this] { dog.start(); });
        thread = std::thread([this] { ioc.run(); });
    }
    ~loop_thread() {
        asio::post(ioc, [this] { dog.stop(); });
        thread.join();
    }
    loop_thread(const loop_thread&) = delete;
    loop_thread& operator=(const loop_thread&) = delete;
};

} // namespace

TEST_CASE("watchdog: WATCHDOG=1 at half of WATCHDOG_USEC from a loop that turns, none from a blocked one") {
    notify_socket manager;
    env_var socket_var("NOTIFY_SOCKET", manager.path.c_str());
    env_var usec("WATCHDOG_USEC", "100000");
    std::string own_pid = std::to_string(::getpid());
    env_var pid("WATCHDOG_PID", own_pid.c_str());

    // Before the loop: the blocking handler below uses them until the loop's thread is joined.
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future();

    asio::io_context ioc;
    watchdog dog(ioc);
    REQUIRE(dog.enabled());
    CHECK(dog.interval() == 50ms);
    loop_thread loop(ioc, dog);

    // The first ping comes at start, then one every interval: three pings sent after a point in time end at
    // least two intervals after it (what was sent before it is drained).
    REQUIRE(manager.receive(5s) == "WATCHDOG=1");
    auto since = std::chrono::steady_clock::now();
    manager.drain();
    for (int i = 0; i < 3; ++i)
        REQUIRE(manager.receive(5s) == "WATCHDOG=1");
    CHECK(std::chrono::steady_clock::now() - since >= 100ms);

    // A handler that does not return holds the loop: no ping until it does.
    asio::post(ioc, [&] {
        entered.set_value();
        released.wait_for(10s);
    });
    REQUIRE(entered.get_future().wait_for(10s) == std::future_status::ready);
    manager.drain();                     // what was sent before the loop was held
    CHECK_FALSE(manager.receive(400ms)); // eight intervals
    release.set_value();
    CHECK(manager.receive(5s) == "WATCHDOG=1");
}

TEST_CASE("watchdog: nothing without WATCHDOG_USEC, with 0 or garbage, or for another WATCHDOG_PID") {
    notify_socket manager;
    env_var socket_var("NOTIFY_SOCKET", manager.path.c_str());
    env_var pid("WATCHDOG_PID", nullptr);
    for (const char* value : {static_cast<const char*>(nullptr), "0", "", "20s", "-1"}) {
        CAPTURE(value ? value : "(unset)");
        env_var usec("WATCHDOG_USEC", value);
        CHECK_FALSE(watchdog_timeout());
    }
    env_var usec("WATCHDOG_USEC", "20000000");
    CHECK(watchdog_timeout() == std::chrono::microseconds(20'000'000));
    {
        // systemd names the process it watches; a child that inherited the variables is not it.
        std::string other = std::to_string(::getpid() + 1);
        env_var other_pid("WATCHDOG_PID", other.c_str());
        CHECK_FALSE(watchdog_timeout());

        asio::io_context ioc;
        watchdog dog(ioc);
        CHECK_FALSE(dog.enabled());
        dog.start();
        ioc.run(); // returns at once: nothing was started
        CHECK(dog.stopped());
        CHECK_FALSE(manager.receive(0ms));
    }
    // READY=1 goes to the same socket.
    notify_ready();
    CHECK(manager.receive(5s) == "READY=1");
}
