#include "tasks/cron.hpp"

#include "util/text.hpp"

#include <date/tz.h>

#include <array>
#include <cctype>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace ag::tasks {
namespace {

struct field_spec {
    const char* name;
    int min;
    int max;
    std::array<const char*, 12> names; // names[i] is value min + i; empty when none
    bool question_mark;                // `?` allowed (the day fields), meaning `*`
};

constexpr field_spec minute_spec{"minute", 0, 59, {}, false};
constexpr field_spec hour_spec{"hour", 0, 23, {}, false};
constexpr field_spec day_spec{"day of month", 1, 31, {}, true};
constexpr field_spec month_spec{
    "month",
    1,
    12,
    {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
    false};
// 7 is Sunday too; folded into 0 by the caller.
constexpr field_spec weekday_spec{
    "day of week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, true};

[[noreturn]] void bad(const field_spec& f, const std::string& what) {
    throw std::invalid_argument(std::string(f.name) + ": " + what);
}

int value_of(std::string_view text, const field_spec& f) {
    if (text.empty())
        bad(f, "a value is missing");
    for (int i = 0; i < 12 && f.names[i]; ++i)
        if (text::iequals(text, f.names[i]))
            return f.min + i;
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        bad(f, "'" + std::string(text) + "' is not a number" + (f.names[0] ? " or a name" : ""));
    if (v < f.min)
        bad(f, std::to_string(v) + " is under " + std::to_string(f.min));
    if (v > f.max)
        bad(f, std::to_string(v) + " is over " + std::to_string(f.max));
    return v;
}

// Sets the bits of one field ("1-5/2,10,*/15"); returns whether it starts with `*` (or `?`).
template <std::size_t N> bool parse_field(std::string_view text, const field_spec& f, std::bitset<N>& bits) {
    if (text.empty())
        bad(f, "empty");
    bool star = text[0] == '*' || (f.question_mark && text[0] == '?');
    while (true) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        if (item.empty())
            bad(f, "an empty item in a list");
        int step = 1;
        bool stepped = false;
        if (auto slash = item.find('/'); slash != std::string_view::npos) {
            std::string_view s = item.substr(slash + 1);
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
            if (s.empty() || ec != std::errc() || end != s.data() + s.size() || step < 1)
                bad(f, "step '" + std::string(s) + "' is not a positive number");
            if (step > f.max - f.min + 1)
                bad(f, "step " + std::to_string(step) + " is over the field's range");
            item = item.substr(0, slash);
            stepped = true;
        }
        int last = f.max == 7 ? 6 : f.max; // where `*` and "5/15" end (day of week: Saturday)
        int lo = 0;
        int hi = 0;
        if (item == "*" || (f.question_mark && item == "?")) {
            lo = f.min;
            hi = last;
        } else if (auto dash = item.find('-'); dash != std::string_view::npos) {
            lo = value_of(item.substr(0, dash), f);
            hi = value_of(item.substr(dash + 1), f);
            if (lo > hi)
                bad(f, "range " + std::string(item) + " runs backwards");
        } else {
            lo = value_of(item, f);
            hi = stepped ? last : lo; // "5/15" is 5, 20, 35, 50
        }
        for (int v = lo; v <= hi; v += step)
            bits.set(static_cast<std::size_t>(f.max == 7 && v == 7 ? 0 : v));
        if (comma == std::string_view::npos)
            break;
        text = text.substr(comma + 1);
    }
    return star;
}

std::string_view expand_macro(std::string_view text) {
    struct macro {
        const char* name;
        const char* fields;
    };
    static constexpr macro macros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
                                       {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                                       {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                                       {"@hourly", "0 * * * *"}};
    for (const auto& m : macros)
        if (text::iequals(text, m.name))
            return m.fields;
    throw std::invalid_argument("unknown macro '" + std::string(text) +
                                "' (@hourly, @daily, @weekly, @monthly, @yearly)");
}

} // namespace

cron_expr parse_cron(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    if (text.starts_with('@'))
        text = expand_macro(text);
    std::vector<std::string_view> fields;
    for (std::size_t i = 0; i < text.size();) {
        if (std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j])))
            ++j;
        fields.push_back(text.substr(i, j - i));
        i = j;
    }
    if (fields.size() != 5)
        throw std::invalid_argument("expected 5 fields (minute hour day-of-month month day-of-week), got " +
                                    std::to_string(fields.size()));
    cron_expr e;
    parse_field(fields[0], minute_spec, e.minutes);
    e.hourly = parse_field(fields[1], hour_spec, e.hours);
    e.days_restricted = !parse_field(fields[2], day_spec, e.days);
    parse_field(fields[3], month_spec, e.months);
    e.weekdays_restricted = !parse_field(fields[4], weekday_spec, e.weekdays);
    return e;
}

bool day_matches(const cron_expr& e, int year, unsigned month, unsigned day) {
    date::year_month_day ymd{date::year{year}, date::month{month}, date::day{day}};
    unsigned wd = date::weekday{date::sys_days{ymd}}.c_encoding();
    bool dom = e.days.test(day);
    bool dow = e.weekdays.test(wd);
    if (e.days_restricted && e.weekdays_restricted)
        return dom || dow;
    return dom && dow;
}

std::optional<std::chrono::sys_seconds> next_fire(const cron_expr& e, const date::time_zone* zone,
                                                  std::chrono::sys_seconds after) {
    using namespace std::chrono;
    auto to_local = [&](sys_seconds s) {
        return zone ? zone->to_local(s) : date::local_seconds{s.time_since_epoch()};
    };
    // The scan starts three hours of wall clock back, so that an hour the clock repeats is seen again.
    auto t = date::floor<minutes>(to_local(after - hours(3)));
    auto end = t + date::days(8 * 366);
    // In a repeated hour wall-clock order is not time order: the second pass of 01:00 comes after the first
    // pass of 01:30. A second-pass candidate waits here until the scan shows nothing earlier.
    std::optional<sys_seconds> second_pass;
    auto found = [&](sys_seconds s) { return second_pass ? std::min(*second_pass, s) : s; };
    while (t < end) {
        auto day = date::floor<date::days>(t);
        date::year_month_day ymd{day};
        auto m = static_cast<unsigned>(ymd.month());
        if (!e.months.test(m)) {
            t = date::local_days{(ymd.year() / ymd.month() / 1) + date::months(1)};
            continue;
        }
        if (!day_matches(e, static_cast<int>(ymd.year()), m, static_cast<unsigned>(ymd.day()))) {
            t = day + date::days(1);
            continue;
        }
        auto since_midnight = t - day;
        auto h = static_cast<std::size_t>(duration_cast<hours>(since_midnight).count());
        auto minute = static_cast<std::size_t>((since_midnight - hours(h)).count());
        if (!e.hours.test(h)) {
            t = day + hours(h + 1);
            continue;
        }
        while (minute < 60 && !e.minutes.test(minute))
            ++minute;
        if (minute == 60) {
            t = day + hours(h + 1);
            continue;
        }
        t = day + hours(h) + minutes(minute);
        date::local_seconds local{t};
        if (!zone) {
            sys_seconds s{local.time_since_epoch()};
            if (s > after)
                return found(s);
        } else {
            auto info = zone->get_info(local);
            auto at = [&](const date::sys_info& i) {
                return sys_seconds{local.time_since_epoch()} - i.offset;
            };
            switch (info.result) {
            case date::local_info::nonexistent:
                break; // skipped
            case date::local_info::unique:
                if (at(info.first) > after)
                    return found(at(info.first));
                break;
            case date::local_info::ambiguous:
                if (at(info.first) > after)
                    return found(at(info.first));
                // Already past its first occurrence: only jobs that run by the hour fire again.
                if (e.hourly && at(info.second) > after)
                    second_pass = found(at(info.second));
                break;
            }
        }
        t += minutes(1);
    }
    return second_pass;
}

} // namespace ag::tasks
