#pragma once
// Counts wrong-token attempts per client address: after `max_failures` within `window`, that address is
// refused (429) until the oldest of those failures leaves the window. Thread-safe; memory is bounded.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ag::auth {

class failure_limiter {
public:
    using clock = std::chrono::steady_clock;

    explicit failure_limiter(std::size_t max_failures = 20, clock::duration window = std::chrono::seconds(60),
                             std::size_t max_addresses = 10000);

    // Seconds until the address may try again, or nullopt when it is not blocked.
    std::optional<std::chrono::seconds> blocked(const std::string& address,
                                                clock::time_point now = clock::now());
    void record_failure(const std::string& address, clock::time_point now = clock::now());
    // How many addresses are tracked (never more than max_addresses).
    std::size_t tracked() const { return tracked_.load(std::memory_order_acquire); }

private:
    void prune(clock::time_point now);

    std::size_t max_failures_;
    clock::duration window_;
    std::size_t max_addresses_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::deque<clock::time_point>> failures_;
    std::atomic<std::size_t> tracked_{0}; // failures_.size(), read without the lock on the hot path
};

} // namespace ag::auth
