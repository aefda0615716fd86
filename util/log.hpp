#pragma once
// Thin logging facade over fmt; only util/log.cpp includes spdlog. Thread-safe.
#include <fmt/core.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace ag::log {

enum class level { trace, debug, info, warn, error, off };

std::optional<level> parse_level(std::string_view name);
void init(level min_level, bool json);
bool enabled(level lvl) noexcept;
void write(level lvl, std::string_view message) noexcept;
// Access-log lines: stderr only, never the tap (a log reader would otherwise see its own requests).
void write_access(std::string_view message) noexcept;

// Every line written with write() at an enabled level is also handed to `tap` (the log journal). Set once
// before threads start; cleared (nullptr) after they stopped.
using tap_function = void (*)(void* context, level lvl, std::string_view message);
void set_tap(tap_function tap, void* context) noexcept;

template <class... Args> void trace(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::trace))
        write(level::trace, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::debug))
        write(level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::info))
        write(level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::warn))
        write(level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void error(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::error))
        write(level::error, fmt::format(f, std::forward<Args>(args)...));
}

// A warning that a flood could repeat thousands of times a second (accept failures, refused connections):
// written at most once a second per `gate`, with how many were left out since.
class once_a_second {
public:
    bool allow(std::uint64_t& suppressed) noexcept;

private:
    std::atomic<std::int64_t> last_ms_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};
template <class... Args>
void warn_rarely(once_a_second& gate, fmt::format_string<Args...> f, Args&&... args) {
    std::uint64_t left_out = 0;
    if (enabled(level::warn) && gate.allow(left_out))
        write(level::warn, fmt::format(f, std::forward<Args>(args)...) +
                               (left_out ? fmt::format(" ({} more like it left out)", left_out) : ""));
}

template <class... Args> void access(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::info))
        write_access(fmt::format(f, std::forward<Args>(args)...));
}

} // namespace ag::log
