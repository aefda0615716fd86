#include "tasks/clock.hpp"
#include "runtime/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

namespace ag::tasks {
namespace {

int make_timerfd() {
    int fd = ::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_create");
    return fd;
}

} // namespace

system_time_source::system_time_source(const asio::any_io_executor& ex)
    : timer_(ex, make_timerfd()) {}

sys_ms system_time_source::now() const {
    return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

asio::awaitable<void> system_time_source::sleep_until(sys_ms when) {
    // interrupt() runs on this executor too: between this check and the wait nothing else runs.
    if (std::exchange(interrupted_, false))
        co_return;
    auto ms = std::max<std::int64_t>(when.time_since_epoch().count(), 1);
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(ms / 1000);
    spec.it_value.tv_nsec = static_cast<long>((ms % 1000) * 1'000'000);
    if (::timerfd_settime(timer_.native_handle(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec,
                          nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_settime");
    auto [ec] = co_await timer_.async_wait(asio::posix::descriptor_base::wait_read,
                                           asio::as_tuple(asio::use_awaitable));
    // Expired: 8 bytes of count. Clock set: ECANCELED. Either way the caller looks at the time again.
    std::uint64_t expirations = 0;
    if (!ec && ::read(timer_.native_handle(), &expirations, sizeof expirations) < 0 && errno != EAGAIN &&
        errno != ECANCELED)
        throw std::system_error(errno, std::generic_category(), "read timerfd");
    interrupted_ = false;
}

void system_time_source::interrupt() {
    asio::post(timer_.get_executor(), [this] {
        interrupted_ = true;
        timer_.cancel();
    });
}

} // namespace ag::tasks
