#include "auth/failure_limiter.hpp"

namespace ag::auth {

failure_limiter::failure_limiter(std::size_t max_failures, clock::duration window, std::size_t max_addresses)
    : max_failures_(max_failures)
    , window_(window)
    , max_addresses_(max_addresses) {}

std::optional<std::chrono::seconds> failure_limiter::blocked(const std::string& address,
                                                             clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = failures_.find(address);
    if (it == failures_.end())
        return std::nullopt;
    auto& times = it->second;
    while (!times.empty() && now - times.front() >= window_)
        times.pop_front();
    if (times.empty()) {
        failures_.erase(it);
        tracked_.store(failures_.size(), std::memory_order_release);
        return std::nullopt;
    }
    if (times.size() < max_failures_)
        return std::nullopt;
    auto left = window_ - (now - times.front());
    auto secs = std::chrono::ceil<std::chrono::seconds>(left);
    return secs.count() < 1 ? std::chrono::seconds(1) : secs;
}

void failure_limiter::record_failure(const std::string& address, clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (failures_.size() >= max_addresses_)
        prune(now);
    auto& times = failures_[address];
    times.push_back(now);
    while (times.size() > max_failures_)
        times.pop_front();
    tracked_.store(failures_.size(), std::memory_order_release);
}

void failure_limiter::prune(clock::time_point now) {
    for (auto it = failures_.begin(); it != failures_.end();) {
        if (it->second.empty() || now - it->second.back() >= window_)
            it = failures_.erase(it);
        else
            ++it;
    }
    // Still full: an address flood. Forget the oldest half rather than grow without bound.
    if (failures_.size() >= max_addresses_) {
        std::size_t n = failures_.size() / 2;
        for (auto it = failures_.begin(); it != failures_.end() && n > 0; --n)
            it = failures_.erase(it);
    }
}

} // namespace ag::auth
