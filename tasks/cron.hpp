#pragma once
// Cron expressions and their next fire time in an IANA time zone (docs/api.md §14). Five fields, minute hour
// day-of-month month day-of-week, with Vixie cron's rules: ranges, steps, lists, month and day names, 7 as
// Sunday, and when both day fields are restricted (neither starts with `*`) a day matching either one fires.
// The macros @hourly, @daily (@midnight), @weekly, @monthly and @yearly (@annually) stand for their fields.
//
// Daylight saving: a local time that does not exist that day (the clock jumps over it) is skipped; one that
// occurs twice fires once, at its first occurrence. Jobs whose hour field starts with `*` run by the hour,
// not by the wall clock: they fire in both passes of a repeated hour (what Vixie cron does for such jobs).
#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace ag::tasks {

struct cron_expr {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days;    // 1-31
    std::bitset<13> months;  // 1-12
    std::bitset<7> weekdays; // 0-6, Sunday 0
    bool days_restricted = false;
    bool weekdays_restricted = false;
    bool hourly = false; // the hour field starts with `*`
};

// Throws std::invalid_argument naming the field and what is wrong with it ("hour: 24 is over 23").
cron_expr parse_cron(std::string_view text);

// Whether the day (proleptic Gregorian, local) is one the expression fires on.
bool day_matches(const cron_expr& e, int year, unsigned month, unsigned day);

// The first fire time strictly after `after` in `zone` (null: UTC). Null when the expression never fires
// (the 31st of a month that has 30 days, 30 February): eight years are searched.
std::optional<std::chrono::sys_seconds> next_fire(const cron_expr& e, const date::time_zone* zone,
                                                  std::chrono::sys_seconds after);

} // namespace ag::tasks
