#pragma once
// IANA time zones from the system's zoneinfo (/usr/share/zoneinfo, through date/tz.h). A zone's file is read
// when the zone is first asked for and kept; forget() drops what was read, so that after a tzdata update
// every zone is read again (the scheduler then recomputes its fire times). "UTC" needs no file: a container
// without tzdata still runs UTC jobs. Thread-safe.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace ag::tasks {

class zones {
public:
    zones();
    ~zones();
    zones(const zones&) = delete;
    zones& operator=(const zones&) = delete;

    // Null for UTC (and "Etc/UTC", "Z"). Throws std::invalid_argument "unknown time zone 'X'" for a name
    // that is not a zone of the system's zoneinfo.
    std::shared_ptr<const date::time_zone> find(std::string_view name);
    void forget();
    // Where the zone files are; a watch on this directory tells of a tzdata update.
    static const std::string& directory();

private:
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const date::time_zone>, std::less<>> cache_;
};

bool is_utc(std::string_view name);

} // namespace ag::tasks
