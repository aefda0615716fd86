// The scheduler's next fire times for tests/tasks/oracle.mjs: one JSON object per line in,
// {"expr","tz","start","count"}, one per line out, {"fires":[ISO…],"steady":bool} or {"error":…}. `steady`:
// the zone's offset does not change between the start and the last fire (the oracle compares only those: DST
// rules are the scheduler's own, docs/api.md §14, and tested by hand in tests/unit/cron_test.cpp).
#include "tasks/cron.hpp"
#include "tasks/job.hpp"
#include "tasks/zones.hpp"

#include <date/tz.h>
#include <nlohmann/json.hpp>

#include <iostream>

int main() {
    ag::tasks::zones zones;
    std::string line;
    while (std::getline(std::cin, line)) {
        nlohmann::json out;
        try {
            auto in = nlohmann::json::parse(line);
            auto zone = zones.find(in["tz"].get<std::string>());
            auto expr = ag::tasks::parse_cron(in["expr"].get<std::string>());
            auto start = ag::tasks::parse_iso8601(in["start"].get<std::string>());
            if (!start)
                throw std::invalid_argument("bad start");
            auto t = std::chrono::floor<std::chrono::seconds>(*start);
            auto first = t;
            out["fires"] = nlohmann::json::array();
            for (int i = 0; i < in.value("count", 20); ++i) {
                auto next = ag::tasks::next_fire(expr, zone.get(), t);
                if (!next)
                    break;
                out["fires"].push_back(date::format("%FT%T.000Z", *next));
                t = *next;
            }
            out["steady"] = !zone || zone->get_info(first).end > t;
        } catch (const std::exception& e) {
            out = {{"error", e.what()}};
        }
        std::cout << out.dump() << "\n";
    }
}
