#pragma once
// The scheduler's time: the system's wall clock, or a test's. One timer per scheduler, never a polling loop.
#include "tasks/job.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace ag::tasks {

class time_source {
public:
    virtual ~time_source() = default;
    virtual sys_ms now() const = 0;
    // Returns at `when`, when the wall clock was set (the fire times must be recomputed), or when
    // interrupt() was called, whichever is first. One waiter at a time.
    virtual boost::asio::awaitable<void> sleep_until(sys_ms when) = 0;
    // Wakes the waiter. Thread-safe.
    virtual void interrupt() = 0;
};

// CLOCK_REALTIME through a timerfd armed at an absolute time with TFD_TIMER_CANCEL_ON_SET: the kernel wakes
// it at the fire time, and at once when someone sets the clock (settimeofday, an NTP step).
class system_time_source final : public time_source {
public:
    explicit system_time_source(const boost::asio::any_io_executor& ex);
    sys_ms now() const override;
    boost::asio::awaitable<void> sleep_until(sys_ms when) override;
    void interrupt() override;

private:
    boost::asio::posix::stream_descriptor timer_;
    bool interrupted_ = false; // on the executor
};

} // namespace ag::tasks
