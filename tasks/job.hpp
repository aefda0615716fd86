#pragma once
// A task (docs/api.md §14): what the API, the manifest and the store exchange, and its rules. A job's
// definition is kept as the normalised JSON object it is shown as; what the scheduler needs of it (its
// parsed schedule) is derived from that. Nothing here does I/O.
#include "tasks/cron.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace ag::tasks {

class zones;

using sys_ms = std::chrono::sys_time<std::chrono::milliseconds>;

constexpr std::size_t max_jobs = 20;
constexpr std::int64_t min_interval_ms = 60'000;
constexpr std::chrono::seconds default_run_timeout{300};

// What a request got wrong; shown as 400 {"error":"Invalid parameters: <what>"}.
struct invalid_job : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

enum class schedule_kind { at, every, cron };

struct schedule {
    schedule_kind kind = schedule_kind::cron;
    sys_ms at{};               // at
    std::int64_t every_ms = 0; // every
    sys_ms anchor{};           // every: fire times are anchor + k·every_ms (the job's creation)
    cron_expr cron;            // cron
    std::shared_ptr<const date::time_zone> zone; // cron; null: UTC
};

struct job_state {
    std::optional<std::int64_t> next_run_at_ms;
    std::optional<std::int64_t> last_run_at_ms;
    std::optional<std::string> last_status; // ok | error | skipped
    std::optional<std::string> last_error;
    std::optional<std::int64_t> last_duration_ms;
    int consecutive_errors = 0;
};

struct job {
    nlohmann::json spec; // id, name, description, enabled, schedule, sessionTarget, wakeMode, payload,
                         // delivery, createdAtMs, updatedAtMs
    job_state state;
    schedule when; // parsed from spec["schedule"]

    const std::string& id() const { return spec["id"].get_ref<const std::string&>(); }
    bool enabled() const { return spec["enabled"].get<bool>(); }
    const nlohmann::json& payload() const { return spec["payload"]; }
    std::string_view payload_kind() const { return payload()["kind"].get_ref<const std::string&>(); }
    // The payload's timeoutSeconds, else default_run_timeout.
    std::chrono::seconds run_timeout() const;
};

// A new job from a create request or a manifest entry (the full form, the product CLI's form, or the short
// form {"name","prompt","schedule":"<cron>","enabled"}). Throws invalid_job naming the field.
job make_job(const nlohmann::json& input, zones& tz, sys_ms now);
// `patch` applied to `current` (only the fields it gives); the result obeys the same rules.
job update_job(const job& current, const nlohmann::json& patch, zones& tz, sys_ms now);
// A job as stored (spec and state, already checked when it was made); throws invalid_job when it is not
// one, e.g. its time zone left the system's zoneinfo.
job stored_job(const nlohmann::json& stored, zones& tz);
// Parses the schedule again (after a time-zone database update).
void reparse_schedule(job& j, zones& tz);

nlohmann::json to_json(const job& j); // spec plus "state"

// The first fire time strictly after `after`; null when there is none (an `at` in the past, a cron that
// never fires).
std::optional<sys_ms> next_fire(const schedule& s, sys_ms after);

// A URL-safe identifier (the product's CLI puts job ids into paths unescaped): letters, digits, '-', '_',
// '.', '~', at most 64.
bool valid_job_id(std::string_view id);
std::string new_job_id(); // a random UUID

// ISO-8601 date-time with an offset or Z (milliseconds allowed); null when it is not one.
std::optional<sys_ms> parse_iso8601(std::string_view text);

} // namespace ag::tasks
