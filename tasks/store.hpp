#pragma once
// Where tasks live under STATE (docs/api.md §14): tasks/jobs.json, the whole table, replaced atomically at
// each change; tasks/runs/<jobId>.jsonl, one line per run, appended and fsynced, cut back to the newest 100
// when it passes 200. A kill at any point leaves the old table or the new one, and at most one torn last line
// of history, which is ignored. Blocking: for the pool.
#include "tasks/job.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::tasks {

constexpr std::size_t runs_kept = 100;
constexpr std::size_t max_run_output = 16 * 1024; // bytes of output (or answer) a run keeps

struct run {
    std::string id;
    std::string job_id;
    std::string trigger; // schedule | manual
    std::string status;  // ok | error | skipped
    std::optional<std::string> error;
    sys_ms started{};
    std::int64_t duration_ms = 0;
    std::optional<std::string> output;
};
nlohmann::json to_json(const run& r);

class store {
public:
    explicit store(std::string dir);

    // The stored table ({"version":1,"jobs":[…]}); null when there is none yet (the first start). Removes
    // temp files a killed write left. Throws std::runtime_error when the file is there but unusable.
    std::optional<nlohmann::json> load_jobs();
    void save_jobs(const std::vector<job>& jobs);
    void append_run(const run& r);
    // Newest first, at most `limit`.
    std::vector<nlohmann::json> runs(std::string_view job_id, std::size_t limit) const;
    void remove_runs(std::string_view job_id);

private:
    std::string runs_file(std::string_view job_id) const;
    std::string dir_;
};

} // namespace ag::tasks
