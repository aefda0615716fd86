#pragma once
// systemd Type=notify readiness, without libsystemd: "READY=1" to $NOTIFY_SOCKET when it is set.
namespace ag {
void notify_ready() noexcept;
}
