#pragma once
// Where log entries meet their readers. Producers (engine and script pipes, followed log files, the daemon's
// own log) publish lines; the hub numbers them through the journal and keeps the recent ones as ready-made
// WebSocket frames in one shared ring. A subscriber is just a cursor into that ring: publishing never copies
// an entry per subscriber and never waits for one, so a stalled reader cannot slow the engine or the others.
// A subscriber that falls more than `queue_limit` bytes behind skips its oldest entries and is told how many.
// Thread-safe.
#include "logs/journal.hpp"
#include "metrics/instruments.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::logs {

using shared_frame = std::shared_ptr<const std::string>;

class hub {
public:
    static constexpr std::size_t default_queue_limit = 1024 * 1024;
    // The ring keeps at least the last `ring_bytes` of frames (and whatever the laggiest permitted reader
    // needs is bounded by queue_limit), so memory stays bounded whatever the readers do.
    explicit hub(journal& j, std::size_t queue_limit = default_queue_limit,
                 std::size_t ring_bytes = 4 * default_queue_limit);

    void publish(level lvl, std::string_view source, std::string_view message);
    // Several lines under one lock and one journal write.
    void publish_batch(const std::vector<decoded_line>& lines);

    journal& entries() { return journal_; }

    class subscription;
    struct batch {
        std::vector<shared_frame> frames; // oldest first
        std::uint64_t dropped = 0;        // entries skipped before these frames
    };

    // `wake` is called (from any thread, without locks held) when entries arrive for a subscription that
    // found nothing on its last poll.
    struct subscribe_options {
        level min_level = level::trace;
        std::optional<std::uint64_t> after; // resume point; otherwise the last `backlog` entries
        std::size_t backlog = 100;
        std::function<void()> wake;
    };
    // The backlog as frames, and a subscription that continues exactly after it (no gap, no duplicate).
    std::pair<std::vector<shared_frame>, std::shared_ptr<subscription>> subscribe(subscribe_options opts);

    // Frames up to about `max_bytes` for `sub`; empty (and the subscription armed for `wake`) when nothing is
    // pending.
    batch poll(subscription& sub, std::size_t max_bytes);
    // The same, appending the frames' bytes to `out`; answers how many entries were dropped before them.
    std::uint64_t poll_into(subscription& sub, std::string& out, std::size_t max_bytes);
    void unsubscribe(subscription& sub);

    std::size_t subscribers() const;
    // For the metrics (docs/api.md §16): entries published, and entries subscribers skipped for lagging.
    const metrics::counter& published() const noexcept { return published_; }
    const metrics::counter& dropped() const noexcept { return dropped_; }

private:
    static constexpr std::size_t levels = 6;
    struct item {
        std::uint64_t seq;
        level lvl;
        shared_frame frame;
        // Totals over every entry up to and including this one, per minimum level: bytes and entries that a
        // subscriber filtering at that level would receive.
        std::array<std::uint64_t, levels> cum_bytes;
        std::array<std::uint64_t, levels> cum_count;
    };

    void append_locked(const entry& e, std::string_view json);
    template <class Take> std::uint64_t collect(subscription& sub, std::size_t max_bytes, Take&& take);
    template <class Append> void publish_with(Append&& append);

    journal& journal_;
    std::size_t queue_limit_;
    std::size_t ring_limit_;
    mutable std::mutex mutex_;
    std::deque<item> ring_;
    std::size_t ring_bytes_ = 0;
    std::array<std::uint64_t, levels> total_bytes_{};
    std::array<std::uint64_t, levels> total_count_{};
    std::vector<std::shared_ptr<subscription>> waiting_;
    std::size_t subscriber_count_ = 0;
    metrics::counter published_;
    metrics::counter dropped_;
};

class hub::subscription : public std::enable_shared_from_this<hub::subscription> {
public:
    explicit subscription(level l, std::function<void()> w)
        : min_level(l)
        , wake(std::move(w)) {}

private:
    friend class hub;
    level min_level;
    std::function<void()> wake;
    std::uint64_t next_seq = 0;   // first entry not yet taken
    std::uint64_t base_bytes = 0; // hub totals at min_level when next_seq was reached
    std::uint64_t base_count = 0;
    bool waiting = false;
    bool closed = false;
};

} // namespace ag::logs
