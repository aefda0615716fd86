#pragma once
// What the API's longer operations take (docs/api.md §16): one of these lives in the composition root, the
// route areas record into it (always: a few relaxed atomic adds), and the registry exposes it when metrics
// are on.
#include "metrics/instruments.hpp"

namespace ag::metrics {

struct work {
    histogram exec_seconds;
    counter exec_timeouts;
    histogram git_upload_pack_seconds;  // a clone or fetch: packing and sending
    histogram git_receive_pack_seconds; // a push: indexing, checks, the ref update and the checkout
    histogram snapshot_create_seconds;  // on request and automatic
    histogram snapshot_restore_seconds;
};

// Measures from construction to destruction into `h`.
class timed {
public:
    explicit timed(histogram& h) noexcept
        : h_(h)
        , started_(std::chrono::steady_clock::now()) {}
    timed(const timed&) = delete;
    timed& operator=(const timed&) = delete;
    ~timed() { h_.observe(std::chrono::steady_clock::now() - started_); }

private:
    histogram& h_;
    std::chrono::steady_clock::time_point started_;
};

} // namespace ag::metrics
