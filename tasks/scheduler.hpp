#pragma once
// The agent's task scheduler (docs/api.md §14): the table of jobs, one timer that wakes at the next fire
// time, the runs, and their history. One service of the composition root.
//
// The API calls write to the store, so they block: handlers call them on the pool. The timer loop runs on
// the executor it is given and does its bookkeeping on the pool too. Each wake looks at the time again: jobs
// due fire (or, more than a minute late — a wall-clock jump forward, a suspended machine — are recorded as
// skipped), and every job's next fire time is recomputed from now, which also covers a clock set back.
#include "metrics/instruments.hpp"
#include "tasks/job.hpp"
#include "tasks/store.hpp"
#include "util/service.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ag {
class blocking_pool;
}

namespace ag::tasks {

class time_source;
class zones;

// How a run ended.
struct outcome {
    std::string status = "ok"; // ok | error
    std::optional<std::string> error;
    std::optional<std::string> output;
};

// Carries a job's payload out (the engine's hooks, a command).
class deliverer {
public:
    virtual ~deliverer() = default;
    virtual boost::asio::awaitable<outcome> deliver(const job& j, std::chrono::seconds timeout) = 0;
    // The daemon stops: runs under way end at once (with status error), later ones too.
    virtual void abort_all() noexcept = 0;
};

struct duplicate_job : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class scheduler final : public service {
public:
    scheduler(boost::asio::any_io_executor ex, store& st, zones& tz, time_source& clock, blocking_pool& pool,
              deliverer& out);

    // Before start (blocking): the stored table; when there is none yet, `manifest_tasks` (the manifest's
    // "tasks" as JSON text, "" when absent) seeds it. Runs that fell due while the daemon was down are
    // recorded as skipped; an `at` job among them is disabled.
    void load(const std::string& manifest_tasks);

    std::string_view name() const noexcept override { return "tasks"; }
    void start() override;
    void stop() noexcept override;
    bool stopped() const noexcept override;

    // The API. Blocking: for the pool. Throw invalid_job (400), duplicate_job (409), std::system_error
    // when the table cannot be stored (nothing changes then).
    std::vector<nlohmann::json> list(bool include_disabled) const;
    nlohmann::json create(const nlohmann::json& body);
    std::optional<nlohmann::json> get(std::string_view id) const;
    std::optional<nlohmann::json> update(std::string_view id, const nlohmann::json& patch);
    bool remove(std::string_view id);
    std::optional<std::vector<nlohmann::json>> runs(std::string_view id, std::size_t limit) const;
    // Runs the job now and returns the run once it ended; null when there is no such job.
    boost::asio::awaitable<std::optional<nlohmann::json>> run_now(std::string id);

    // For the agent detail and the metrics: jobs, enabled, running, nextRunAt, lastRunAt, lastStatus.
    nlohmann::json summary() const;
    // Moves on whenever what summary() shows may have changed.
    std::uint64_t version() const noexcept { return version_; }
    // The time-zone database changed (or SIGHUP): zones are read again and fire times recomputed. Blocking.
    void refresh_zones();
    // For the metrics (docs/api.md §16): runs recorded with this status ("ok", "error", "skipped").
    const metrics::counter& runs_with(std::string_view status) const noexcept;

private:
    boost::asio::awaitable<void> loop();
    boost::asio::awaitable<void> watch_zoneinfo();
    boost::asio::awaitable<nlohmann::json> execute(std::string id, std::string trigger);
    void spawn_run(std::string id);
    // Under write_mutex_: the changed table stored, then served.
    void commit(std::vector<job> jobs);
    std::vector<std::string> take_due(sys_ms now, std::optional<sys_ms>& wake);
    void finish(const run& r, bool counted);
    std::vector<job> copy() const;
    void append_run(const run& r); // to the history, and counted

    boost::asio::any_io_executor ex_;
    store& store_;
    zones& zones_;
    time_source& clock_;
    blocking_pool& pool_;
    deliverer& out_;

    mutable std::mutex mutex_; // jobs_, running_
    std::vector<job> jobs_;
    std::set<std::string, std::less<>> running_;
    std::mutex write_mutex_; // one change at a time, stored in the order it is served

    std::array<metrics::counter, 3> runs_by_status_; // ok, error, skipped
    std::atomic<bool> stopping_{false};
    std::atomic<int> loops_{0};     // the timer loop and the zoneinfo watch
    std::atomic<int> in_flight_{0}; // runs under way
    std::atomic<std::uint64_t> version_{0};
    int inotify_fd_ = -1;
};

} // namespace ag::tasks
