#include "logs/hub.hpp"

#include "logs/ws_frame.hpp"

#include <algorithm>

namespace ag::logs {
namespace {

std::size_t index_of(level l) {
    return static_cast<std::size_t>(l);
}

shared_frame text_frame(std::string_view json) {
    return std::make_shared<const std::string>(ws::encode(ws::opcode::text, json));
}

// A daemon log line written while publishing (say, the journal reporting a disk error) must not publish
// again on the same thread: the hub's lock is held.
thread_local bool publishing = false;

} // namespace

hub::hub(journal& j, std::size_t queue_limit, std::size_t ring_bytes)
    : journal_(j)
    , queue_limit_(queue_limit)
    , ring_limit_(std::max(ring_bytes, queue_limit * 2)) {}

void hub::append_locked(const entry& e, std::string_view json) {
    auto frame = text_frame(json);
    std::size_t size = frame->size();
    for (std::size_t t = 0; t <= index_of(e.lvl); ++t) {
        total_bytes_[t] += size;
        total_count_[t] += 1;
    }
    ring_.push_back(item{e.seq, e.lvl, std::move(frame), total_bytes_, total_count_});
    published_.add();
    ring_bytes_ += size;
    while (ring_bytes_ > ring_limit_ && ring_.size() > 1) {
        ring_bytes_ -= ring_.front().frame->size();
        ring_.pop_front();
    }
}

template <class Append> void hub::publish_with(Append&& append) {
    if (publishing)
        return;
    publishing = true;
    std::vector<std::shared_ptr<subscription>> to_wake;
    {
        std::lock_guard lock(mutex_);
        append([this](const entry& e, std::string_view json) { append_locked(e, json); });
        if (!waiting_.empty()) {
            to_wake.swap(waiting_);
            for (auto& s : to_wake)
                s->waiting = false;
        }
    }
    publishing = false;
    for (auto& s : to_wake)
        if (s->wake)
            s->wake();
}

void hub::publish(level lvl, std::string_view source, std::string_view message) {
    publish_with(
        [&](const journal::entry_observer& observe) { journal_.append(lvl, source, message, observe); });
}

void hub::publish_batch(const std::vector<decoded_line>& lines) {
    if (lines.empty())
        return;
    publish_with([&](const journal::entry_observer& observe) { journal_.append_batch(lines, observe); });
}

std::pair<std::vector<shared_frame>, std::shared_ptr<hub::subscription>>
hub::subscribe(subscribe_options opts) {
    auto sub = std::make_shared<subscription>(opts.min_level, std::move(opts.wake));
    std::vector<shared_frame> backlog;
    std::lock_guard lock(mutex_);
    // Every append happens under this lock, so the journal and the ring agree here.
    auto entries = opts.after ? journal_.after(*opts.after) : journal_.last(opts.backlog);
    for (const auto& e : entries)
        if (e.lvl >= opts.min_level)
            backlog.push_back(text_frame(to_json(e)));
    std::size_t t = index_of(opts.min_level);
    sub->next_seq = journal_.last_seq() + 1;
    sub->base_bytes = total_bytes_[t];
    sub->base_count = total_count_[t];
    ++subscriber_count_;
    return {std::move(backlog), std::move(sub)};
}

template <class Take> std::uint64_t hub::collect(subscription& sub, std::size_t max_bytes, Take&& take) {
    struct {
        std::uint64_t dropped = 0;
    } out;
    std::lock_guard lock(mutex_);
    if (sub.closed)
        return 0;
    std::size_t t = index_of(sub.min_level);
    auto arm = [&] {
        if (!sub.waiting) {
            sub.waiting = true;
            waiting_.push_back(sub.shared_from_this());
        }
    };
    if (ring_.empty() || sub.next_seq > ring_.back().seq) {
        arm();
        return 0;
    }
    auto matches = [&](const item& it) { return index_of(it.lvl) >= t; };
    auto bytes_before = [&](std::size_t i) {
        const item& it = ring_[i];
        return it.cum_bytes[t] - (matches(it) ? it.frame->size() : 0);
    };
    auto count_before = [&](std::size_t i) {
        const item& it = ring_[i];
        return it.cum_count[t] - (matches(it) ? 1 : 0);
    };
    std::uint64_t front_seq = ring_.front().seq;
    std::size_t i = 0;
    if (sub.next_seq >= front_seq) {
        i = static_cast<std::size_t>(sub.next_seq - front_seq);
    } else {
        // Its next entries already left the ring: they count as dropped.
        out.dropped += count_before(0) - sub.base_count;
        sub.base_bytes = bytes_before(0);
        sub.base_count = count_before(0);
    }
    if (total_bytes_[t] - sub.base_bytes > queue_limit_) {
        // Too far behind: skip to the first entry from which at most queue_limit bytes are pending.
        std::size_t lo = i, hi = ring_.size() - 1;
        while (lo < hi) {
            std::size_t mid = lo + (hi - lo) / 2;
            if (total_bytes_[t] - bytes_before(mid) <= queue_limit_)
                hi = mid;
            else
                lo = mid + 1;
        }
        out.dropped += count_before(lo) - sub.base_count;
        i = lo;
    }
    std::size_t bytes = 0;
    for (; i < ring_.size() && bytes < max_bytes; ++i) {
        const item& it = ring_[i];
        if (matches(it)) {
            take(it.frame);
            bytes += it.frame->size();
        }
    }
    const item& last = ring_[i - 1];
    sub.next_seq = last.seq + 1;
    sub.base_bytes = last.cum_bytes[t];
    sub.base_count = last.cum_count[t];
    if (bytes == 0 && out.dropped == 0)
        arm();
    dropped_.add(out.dropped);
    return out.dropped;
}

hub::batch hub::poll(subscription& sub, std::size_t max_bytes) {
    batch out;
    out.dropped = collect(sub, max_bytes, [&](const shared_frame& f) { out.frames.push_back(f); });
    return out;
}

std::uint64_t hub::poll_into(subscription& sub, std::string& out, std::size_t max_bytes) {
    // Bytes are copied under the lock: cheaper than a reference count per frame per subscriber.
    return collect(sub, max_bytes, [&](const shared_frame& f) { out += *f; });
}

void hub::unsubscribe(subscription& sub) {
    std::lock_guard lock(mutex_);
    if (sub.closed)
        return;
    sub.closed = true;
    std::erase_if(waiting_, [&](const auto& p) { return p.get() == &sub; });
    --subscriber_count_;
}

std::size_t hub::subscribers() const {
    std::lock_guard lock(mutex_);
    return subscriber_count_;
}

} // namespace ag::logs
