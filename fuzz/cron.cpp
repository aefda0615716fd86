// Cron expressions (tasks/cron.hpp) and their next fire time in a zone: parsed or refused, and a next time,
// when there is one, comes after the start.
#include "tasks/cron.hpp"
#include "tasks/zones.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    static const char* zones[] = {"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                  "Asia/Kathmandu"};
    static ag::tasks::zones known;
    auto zone = known.find(zones[data[0] % 5]);
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        auto e = ag::tasks::parse_cron(in);
        auto from = std::chrono::sys_seconds(std::chrono::seconds(1700000000 + data[1] * 86400LL * 7));
        auto next = ag::tasks::next_fire(e, zone.get(), from);
        if (next && *next <= from)
            __builtin_trap();
    } catch (const std::exception&) {
    }
    return 0;
}
