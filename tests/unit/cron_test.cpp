// Cron parsing and next fire times (tasks/cron, tasks/zones): Vixie cron's rules, the macros, and the
// daylight-saving cases in three zones, computed by hand and checked against Python's zoneinfo.
#include "tasks/cron.hpp"
#include "tasks/job.hpp"
#include "tasks/zones.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <vector>

namespace {

using namespace ag::tasks;
using std::chrono::sys_seconds;

sys_seconds at(const char* iso) {
    auto t = parse_iso8601(iso);
    REQUIRE(t);
    return std::chrono::floor<std::chrono::seconds>(*t);
}

std::string iso(sys_seconds t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The next `n` fire times after `from` in `zone` ("UTC" or an IANA name).
std::vector<std::string> fires(const char* expr, const char* zone, const char* from, int n = 1) {
    static zones z;
    auto tz = z.find(zone);
    auto e = parse_cron(expr);
    std::vector<std::string> out;
    sys_seconds t = at(from);
    for (int i = 0; i < n; ++i) {
        auto next = next_fire(e, tz.get(), t);
        if (!next)
            break;
        out.push_back(iso(*next));
        t = *next;
    }
    return out;
}

std::string error_of(const char* expr) {
    try {
        parse_cron(expr);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

using list = std::vector<std::string>;

} // namespace

TEST_CASE("cron: fields, ranges, steps, lists and names") {
    CHECK(fires("*/15 * * * *", "UTC", "2026-01-01T00:07:00Z", 3) ==
          list{"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z"});
    CHECK(fires("5/20 * * * *", "UTC", "2026-01-01T00:00:00Z", 3) ==
          list{"2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z"});
    CHECK(
        fires("0 9-17/4 * * *", "UTC", "2026-01-01T00:00:00Z", 4) ==
        list{"2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"});
    CHECK(fires("0 0 1,15 * *", "UTC", "2026-01-02T00:00:00Z", 2) ==
          list{"2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z"});
    // 2026-01-01 is a Thursday.
    CHECK(fires("30 8 * jan-Mar MON-fri", "UTC", "2026-01-01T09:00:00Z", 2) ==
          list{"2026-01-02T08:30:00Z", "2026-01-05T08:30:00Z"});
    CHECK(fires("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z") == list{"2026-01-04T00:00:00Z"});
    CHECK(fires("0 0 * * 0", "UTC", "2026-01-01T00:00:00Z") == list{"2026-01-04T00:00:00Z"});
    CHECK(fires("0 0 * * 5-7", "UTC", "2026-01-03T01:00:00Z", 2) ==
          list{"2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"});
    CHECK(fires("* * * * *", "UTC", "2026-01-01T00:00:30Z", 2) ==
          list{"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"});
    // Strictly after: a fire time equal to the start is not returned.
    CHECK(fires("0 * * * *", "UTC", "2026-01-01T05:00:00Z") == list{"2026-01-01T06:00:00Z"});
}

TEST_CASE("cron: Vixie's day rule — both day fields restricted means either") {
    // The 13th or any Friday: Friday 2 January comes first.
    CHECK(fires("0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", 3) ==
          list{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"});
    // A field starting with * is unrestricted, steps and all: odd days that are Fridays.
    CHECK(fires("0 0 */2 * 5", "UTC", "2026-01-01T00:00:00Z", 2) ==
          list{"2026-01-09T00:00:00Z", "2026-01-23T00:00:00Z"});
    CHECK(fires("0 0 13 * *", "UTC", "2026-01-01T00:00:00Z") == list{"2026-01-13T00:00:00Z"});
}

TEST_CASE("cron: the macros") {
    CHECK(fires("@hourly", "UTC", "2026-01-01T00:30:00Z") == list{"2026-01-01T01:00:00Z"});
    CHECK(fires("@daily", "UTC", "2026-01-01T00:30:00Z") == list{"2026-01-02T00:00:00Z"});
    CHECK(fires("@midnight", "UTC", "2026-01-01T00:30:00Z") == list{"2026-01-02T00:00:00Z"});
    CHECK(fires("@weekly", "UTC", "2026-01-01T00:30:00Z") == list{"2026-01-04T00:00:00Z"});
    CHECK(fires("@monthly", "UTC", "2026-01-01T00:30:00Z") == list{"2026-02-01T00:00:00Z"});
    CHECK(fires("@yearly", "UTC", "2026-01-01T00:30:00Z") == list{"2027-01-01T00:00:00Z"});
    CHECK(fires("@annually", "UTC", "2026-01-01T00:30:00Z") == list{"2027-01-01T00:00:00Z"});
}

TEST_CASE("cron: 29 February, and days that never come") {
    CHECK(fires("0 12 29 2 *", "UTC", "2026-01-01T00:00:00Z", 2) ==
          list{"2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"});
    // Either the 29th or a Monday of February.
    CHECK(fires("0 0 29 2 1", "UTC", "2026-02-01T00:00:00Z") == list{"2026-02-02T00:00:00Z"});
    CHECK(fires("0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z").empty());
    CHECK(fires("0 0 31 4,6,9,11 *", "UTC", "2026-01-01T00:00:00Z").empty());
}

TEST_CASE("cron: a bad expression names what is wrong") {
    CHECK(error_of("60 * * * *") == "minute: 60 is over 59");
    CHECK(error_of("* 24 * * *") == "hour: 24 is over 23");
    CHECK(error_of("* * 0 * *") == "day of month: 0 is under 1");
    CHECK(error_of("* * * 13 *") == "month: 13 is over 12");
    CHECK(error_of("* * * * 8") == "day of week: 8 is over 7");
    CHECK(error_of("* * * FOO *") == "month: 'FOO' is not a number or a name");
    CHECK(error_of("*/0 * * * *") == "minute: step '0' is not a positive number");
    CHECK(error_of("5-1 * * * *") == "minute: range 5-1 runs backwards");
    CHECK(error_of("1,,2 * * * *") == "minute: an empty item in a list");
    CHECK(error_of("* * *") == "expected 5 fields (minute hour day-of-month month day-of-week), got 3");
    CHECK(error_of("0 * * * * *") == "expected 5 fields (minute hour day-of-month month day-of-week), got 6");
    CHECK(error_of("@reboot").starts_with("unknown macro '@reboot'"));
    CHECK(error_of("") == "expected 5 fields (minute hour day-of-month month day-of-week), got 0");
}

TEST_CASE("cron: daylight saving in America/New_York") {
    // 8 March 2026: 02:00 EST jumps to 03:00 EDT. 02:30 does not exist that day: skipped.
    CHECK(fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z") == list{"2026-03-09T06:30:00Z"});
    // Hourly jobs run by the hour: 01:00 EST, then 03:00 EDT an hour later.
    CHECK(fires("0 * * * *", "America/New_York", "2026-03-08T05:30:00Z", 2) ==
          list{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"});
    // 1 November 2026: 02:00 EDT falls back to 01:00 EST. 01:30 happens twice and fires once, the first time.
    CHECK(fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2) ==
          list{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"});
    // Starting inside the second pass, the first one is not repeated.
    CHECK(fires("30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z") == list{"2026-11-02T06:30:00Z"});
    // An hourly job fires in both passes of the repeated hour.
    CHECK(fires("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", 3) ==
          list{"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"});
    CHECK(
        fires("*/30 * * * *", "America/New_York", "2026-11-01T05:00:00Z", 4) ==
        list{"2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"});
}

TEST_CASE("cron: daylight saving in Europe/Berlin") {
    // 29 March 2026: 02:00 CET jumps to 03:00 CEST.
    CHECK(fires("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z") == list{"2026-03-30T00:30:00Z"});
    CHECK(fires("0 9 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2) ==
          list{"2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"});
    // 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:30 fires once.
    CHECK(fires("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2) ==
          list{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"});
}

TEST_CASE("cron: daylight saving in Australia/Lord_Howe (a 30-minute shift)") {
    // 4 October 2026: 02:00 (+10:30) jumps to 02:30 (+11). 02:15 does not exist that day.
    CHECK(fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z") == list{"2026-10-04T15:15:00Z"});
    // 5 April 2026: 02:00 (+11) falls back to 01:30 (+10:30); 01:45 happens twice and fires once.
    CHECK(fires("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", 2) ==
          list{"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"});
}

TEST_CASE("zones: names from the system's zoneinfo, and nothing else") {
    zones z;
    CHECK(z.find("UTC") == nullptr);
    CHECK(z.find("Etc/UTC") == nullptr);
    CHECK(z.find("Asia/Kolkata") != nullptr);
    CHECK(z.find("Asia/Kolkata") == z.find("Asia/Kolkata")); // read once
    for (const char* bad : {"Mars/Olympus", "../../etc/passwd", "/etc/localtime", "America//New_York", "",
                            "tzdata.zi", "America"})
        CHECK_THROWS_AS(z.find(bad), std::invalid_argument);
    auto before = z.find("Europe/Paris");
    z.forget();
    CHECK(z.find("Europe/Paris") != before); // read again after a tzdata update
}
