#pragma once
// Thin logging facade over fmt; only util/log.cpp includes spdlog. Thread-safe.
#include <fmt/core.h>

#include <optional>
#include <string_view>
#include <utility>

namespace ag::log {

enum class level { trace, debug, info, warn, error, off };

std::optional<level> parse_level(std::string_view name);
void init(level min_level, bool json);
bool enabled(level lvl) noexcept;
void write(level lvl, std::string_view message) noexcept;

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

} // namespace ag::log
