#include "util/log.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

namespace ag::log {
namespace {
void to_stderr(level lvl, std::string_view message) noexcept;

std::atomic<level> min_level_{level::info};
std::atomic<bool> json_{false};
std::atomic<tap_function> tap_{nullptr};
std::atomic<void*> tap_context_{nullptr};

spdlog::level::level_enum to_spdlog(level lvl) {
    switch (lvl) {
    case level::trace:
        return spdlog::level::trace;
    case level::debug:
        return spdlog::level::debug;
    case level::info:
        return spdlog::level::info;
    case level::warn:
        return spdlog::level::warn;
    case level::error:
        return spdlog::level::err;
    case level::off:
        return spdlog::level::off;
    }
    return spdlog::level::info;
}

spdlog::logger& logger() {
    // stderr, unbuffered per line; created on first use so early errors are visible too.
    static auto instance = [] {
        auto l = spdlog::stderr_logger_mt("agent-gateway");
        l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
        l->set_level(spdlog::level::trace);
        return l;
    }();
    return *instance;
}

} // namespace

std::optional<level> parse_level(std::string_view name) {
    if (name == "trace")
        return level::trace;
    if (name == "debug")
        return level::debug;
    if (name == "info")
        return level::info;
    if (name == "warn" || name == "warning")
        return level::warn;
    if (name == "error")
        return level::error;
    if (name == "off")
        return level::off;
    return std::nullopt;
}

void init(level min_level, bool json) {
    min_level_ = min_level;
    json_ = json;
    if (json)
        logger().set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":%v})",
                             spdlog::pattern_time_type::utc);
}

bool enabled(level lvl) noexcept {
    return lvl >= min_level_.load(std::memory_order_relaxed) && lvl != level::off;
}

void set_tap(tap_function tap, void* context) noexcept {
    tap_context_ = context;
    tap_ = tap;
}

void write(level lvl, std::string_view message) noexcept {
    to_stderr(lvl, message);
    if (auto tap = tap_.load(std::memory_order_acquire)) {
        try {
            tap(tap_context_.load(std::memory_order_relaxed), lvl, message);
        } catch (...) {
        }
    }
}

void write_access(std::string_view message) noexcept {
    to_stderr(level::info, message);
}

namespace {
void to_stderr(level lvl, std::string_view message) noexcept {
    try {
        if (json_.load(std::memory_order_relaxed))
            logger().log(to_spdlog(lvl), "{}",
                         nlohmann::json(std::string(message))
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        else
            logger().log(to_spdlog(lvl), "{}", message);
    } catch (...) {
        // Logging must never take the daemon down.
    }
}

} // namespace

bool once_a_second::allow(std::uint64_t& suppressed) noexcept {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::int64_t last = last_ms_.load(std::memory_order_relaxed);
    if (now - last < 1000 || !last_ms_.compare_exchange_strong(last, now)) {
        suppressed_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
}

} // namespace ag::log
