#include "util/time_format.hpp"

#include <fmt/core.h>

namespace ag::time_format {

std::string iso8601_ms(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    auto secs = static_cast<std::time_t>(ms / 1000);
    if (ms % 1000 < 0)
        --secs;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ((ms % 1000) + 1000) % 1000);
}

std::string iso8601_ms_now() {
    return iso8601_ms(std::chrono::system_clock::now());
}

std::string http_date(std::time_t t) {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", days[tm.tm_wday], tm.tm_mday,
                       months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

} // namespace ag::time_format
