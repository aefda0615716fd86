#pragma once
// systemd's notification protocol, without libsystemd: datagrams to $NOTIFY_SOCKET when it is set.
#include <chrono>
#include <optional>
#include <string_view>

namespace ag {

// Sends `state` ("READY=1", "WATCHDOG=1", ...) to $NOTIFY_SOCKET; false when it is unset or the send failed.
bool sd_notify(std::string_view state) noexcept;
// Type=notify readiness: "READY=1".
void notify_ready() noexcept;
// What systemd asks of us with WatchdogSec=: $WATCHDOG_USEC, when set, above 0, and meant for this process
// ($WATCHDOG_PID unset or ours). nullopt when no watchdog is asked for.
std::optional<std::chrono::microseconds> watchdog_timeout() noexcept;

} // namespace ag
