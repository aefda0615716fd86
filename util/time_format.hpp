#pragma once
#include <chrono>
#include <ctime>
#include <string>

namespace ag::time_format {

// 2026-11-30T12:00:00.000Z
std::string iso8601_ms(std::chrono::system_clock::time_point t);
std::string iso8601_ms_now();
// RFC 9110 IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
std::string http_date(std::time_t t);

} // namespace ag::time_format
