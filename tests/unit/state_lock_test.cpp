// app/state_lock.hpp: one daemon per state directory.
#include "app/state_lock.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

using ag::app::state_lock;

TEST_CASE("state lock: a second holder is refused with the first one's pid, after its wait") {
    test::temp_dir dir;
    state_lock first(dir.path);
    // flock(2) locks belong to an open file, so a second open in this process is refused like another daemon.
    std::string message;
    try {
        state_lock second(dir.path);
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    CHECK_MESSAGE(message.find("another agent-gateway (pid " + std::to_string(::getpid()) +
                               ") serves the state directory " + dir.path) != std::string::npos,
                  message);
}

TEST_CASE("state lock: a holder that lets go within the wait (a daemon being torn down) is waited for") {
    test::temp_dir dir;
    std::optional<state_lock> dying(std::in_place, dir.path);
    // The holder goes while the next one waits: as a daemon killed with SIGKILL does once the kernel has
    // freed its memory. The pause is the holder's dying, not a wait for an event of this test's.
    std::thread teardown([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        dying.reset();
    });
    std::optional<state_lock> next;
    CHECK_NOTHROW(next.emplace(dir.path));
    teardown.join();
    CHECK(next.has_value());
}
