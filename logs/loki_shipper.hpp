#pragma once
// Ships the log journal to Grafana Loki (--loki-url; docs/api.md §7, "Shipping to Loki"). It reads the
// journal in pages after the last seq Loki accepted, pushes each page as one batch (up to 1 MiB, sent at
// once when a page is full, otherwise at most a second after its first entry), and records the last seq sent
// in STATE/loki/shipped-seq (temp file, fsync, rename) once Loki answered 2xx. Nothing waits in memory but
// the one batch in flight: while Loki is away new entries land in the journal on disk and the shipper retries
// (1 s doubling to 60 s). After a restart it resumes after the recorded seq, so an entry is sent twice only
// when the daemon died between Loki's answer and that record. Entries the journal dropped before they were
// sent (it keeps the last 1000) are reported as a gap, once, and shipping goes on from the oldest it holds.
//
// Runs as one coroutine on `ioc`; the journal reads, the HTTP exchange and the disk writes run on the pool.
// start() and stop() on the `ioc` thread; the counters may be read from any thread.
#include "logs/journal.hpp"
#include "metrics/instruments.hpp"
#include "runtime/blocking_pool.hpp"
#include "upstream/client.hpp"
#include "util/service.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace ag::logs {

class loki_shipper final : public service {
public:
    struct options {
        std::string url; // --loki-url
        std::string agent_id;
        std::string state_dir; // the shipper keeps STATE/loki/shipped-seq
        std::size_t page_entries = 1000;
        std::size_t max_batch_bytes = 1024 * 1024;
        std::chrono::milliseconds flush_interval{1000};
        std::chrono::milliseconds first_retry{1000};
        std::chrono::milliseconds max_retry{60000};
        std::chrono::seconds timeout{10}; // connect, and each read and write of one push
    };

    // Throws std::invalid_argument when the URL is not one the shipper can use.
    loki_shipper(boost::asio::io_context& ioc, blocking_pool& pool, journal& j, options opts);

    std::string_view name() const noexcept override { return "loki shipper"; }
    void start() override;
    void stop() noexcept override;
    bool stopped() const noexcept override { return !running_; }

    // For the metrics (docs/api.md §16).
    const metrics::counter& shipped() const noexcept { return shipped_; }
    const metrics::counter& failures() const noexcept { return failures_; }
    const metrics::counter& rejected() const noexcept { return rejected_; }
    const metrics::counter& lost() const noexcept { return lost_; }
    // Entries in the journal not yet accepted by Loki.
    std::uint64_t lag() const noexcept;

    // The wait before retry number `failures` (1, 2, 4, … seconds up to the maximum).
    static std::chrono::milliseconds retry_delay(unsigned failures, std::chrono::milliseconds first,
                                                 std::chrono::milliseconds max);

private:
    enum class outcome { idle, sent, rejected, failed };
    struct result {
        outcome what = outcome::idle;
        std::size_t entries = 0;
        bool full = false;  // the page was full: more may be waiting
        std::string detail; // why it failed or was rejected
    };

    boost::asio::awaitable<void> run();
    boost::asio::awaitable<bool> wait(std::chrono::milliseconds d); // false once stopping
    void load_position();                                           // pool
    result ship_once();                                             // pool
    void save_position(std::uint64_t seq);                          // pool

    boost::asio::io_context& ioc_;
    blocking_pool& pool_;
    journal& journal_;
    options opts_;
    upstream::endpoint to_;
    std::string path_;
    std::string position_file_;
    boost::asio::steady_timer timer_;
    upstream::abort_switch abort_;
    std::atomic<std::uint64_t> position_{0}; // the last seq Loki accepted (or rejected for good)
    bool stopping_ = false;
    bool running_ = false;
    metrics::counter shipped_;
    metrics::counter failures_;
    metrics::counter rejected_;
    metrics::counter lost_;
};

} // namespace ag::logs
