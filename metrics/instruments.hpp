#pragma once
// Lock-free instruments for the request path: relaxed atomics only, no lock and no lookup per event (the
// Prometheus client library's own histogram takes a mutex per observation). The registry reads them at a
// scrape. Thread-safe.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace ag::metrics {

class counter {
public:
    void add(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

class gauge {
public:
    void add(std::int64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    void set(std::int64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
    std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

// Holds `g` one higher while in scope (a WebSocket open, a tunnel up); null counts nothing.
class held {
public:
    explicit held(gauge* g) noexcept
        : g_(g) {
        if (g_)
            g_->add(1);
    }
    held(const held&) = delete;
    held& operator=(const held&) = delete;
    ~held() {
        if (g_)
            g_->add(-1);
    }

private:
    gauge* g_;
};

// Durations, in seconds, with fixed buckets from 100 µs to 60 s (requests, execs, snapshots, pushes).
class histogram {
public:
    static constexpr std::array<double, 18> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                   1,      2.5,     5,      10,    30,     60};
    void observe(std::chrono::nanoseconds d) noexcept {
        double s = std::chrono::duration<double>(d).count();
        std::size_t i = 0;
        while (i < bounds.size() && s > bounds[i])
            ++i;
        counts_[i].fetch_add(1, std::memory_order_relaxed);
        sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()),
                          std::memory_order_relaxed);
    }
    // Per bucket (not cumulative), the last one past the largest bound.
    std::uint64_t count_in(std::size_t bucket) const noexcept {
        return counts_[bucket].load(std::memory_order_relaxed);
    }
    std::uint64_t count() const noexcept {
        std::uint64_t n = 0;
        for (const auto& c : counts_)
            n += c.load(std::memory_order_relaxed);
        return n;
    }
    double sum_seconds() const noexcept {
        return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    }

private:
    std::array<std::atomic<std::uint64_t>, bounds.size() + 1> counts_{};
    std::atomic<std::uint64_t> sum_ns_{0};
};

// One route's requests: by status class (1xx-5xx) and their latency.
struct route_stats {
    std::array<counter, 5> by_class;
    histogram latency;
    void record(unsigned status, std::chrono::nanoseconds took) noexcept {
        unsigned c = status / 100;
        by_class[c >= 1 && c <= 5 ? c - 1 : 4].add();
        latency.observe(took);
    }
};

} // namespace ag::metrics
