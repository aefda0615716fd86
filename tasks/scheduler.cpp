#include "tasks/scheduler.hpp"
#include "util/scope_exit.hpp"

#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "tasks/clock.hpp"
#include "tasks/zones.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/time_format.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>

namespace ag::tasks {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A fire this late was not missed by a moment of load but by a jump of the clock or a suspended machine.
constexpr auto late_limit = 60s;

std::string iso(sys_ms t) {
    return time_format::iso8601_ms(std::chrono::system_clock::time_point(t));
}

std::optional<sys_ms> next_for(const job& j, sys_ms now) {
    return j.enabled() ? next_fire(j.when, now) : std::nullopt;
}

void set_next(job& j, sys_ms now) {
    auto n = next_for(j, now);
    j.state.next_run_at_ms = n ? std::optional(n->time_since_epoch().count()) : std::nullopt;
}

run skipped_run(const job& j, sys_ms due, std::string why) {
    run r;
    r.id = new_job_id();
    r.job_id = j.id();
    r.trigger = "schedule";
    r.status = "skipped";
    r.error = std::move(why);
    r.started = due;
    return r;
}

// A run's output or error as the history keeps it: invalid bytes become U+FFFD, and the cut to
// max_run_output falls on a character boundary (JSON takes only valid UTF-8; a run must always be
// recordable).
void make_recordable(std::optional<std::string>& s) {
    if (s)
        *s = std::string(text::utf8_prefix(text::to_valid_utf8(*s), max_run_output));
}

auto find(std::vector<job>& jobs, std::string_view id) {
    return std::find_if(jobs.begin(), jobs.end(), [&](const job& j) { return j.id() == id; });
}

} // namespace

scheduler::scheduler(asio::any_io_executor ex, store& st, zones& tz, time_source& clock, blocking_pool& pool,
                     deliverer& out)
    : ex_(std::move(ex))
    , store_(st)
    , zones_(tz)
    , clock_(clock)
    , pool_(pool)
    , out_(out) {}

void scheduler::load(const std::string& manifest_tasks) {
    auto now = clock_.now();
    std::vector<job> jobs;
    auto stored = store_.load_jobs();
    if (stored) {
        for (const auto& s : (*stored)["jobs"]) {
            try {
                jobs.push_back(stored_job(s, zones_));
            } catch (const invalid_job& e) {
                log::error("tasks: a stored job cannot be used and is left out: {}", e.what());
            }
        }
    } else if (!manifest_tasks.empty()) {
        json seed = json::parse(manifest_tasks, nullptr, false);
        for (const auto& s : seed.is_array() ? seed : json::array()) {
            try {
                if (jobs.size() >= max_jobs)
                    throw invalid_job("at most 20 tasks");
                auto j = make_job(s, zones_, now);
                if (find(jobs, j.id()) != jobs.end())
                    throw invalid_job("id " + j.id() + " is taken");
                set_next(j, now);
                jobs.push_back(std::move(j));
            } catch (const invalid_job& e) {
                log::warn("tasks: a manifest task is left out: {}", e.what());
            }
        }
        log::info("tasks: {} task(s) from the manifest", jobs.size());
    }
    // docs/api.md §14: what fell due while the daemon was down is skipped, not queued.
    std::vector<run> missed;
    for (auto& j : jobs) {
        if (j.enabled() && j.state.next_run_at_ms &&
            *j.state.next_run_at_ms < now.time_since_epoch().count()) {
            sys_ms due{std::chrono::milliseconds(*j.state.next_run_at_ms)};
            missed.push_back(skipped_run(j, due, "missed: the daemon was not running at " + iso(due)));
            j.state.last_status = "skipped";
            j.state.last_error = missed.back().error;
            if (j.when.kind == schedule_kind::at)
                j.spec["enabled"] = false;
        }
        set_next(j, now);
    }
    std::lock_guard w(write_mutex_);
    // Written when it changed (the first start, missed runs, a job left out): a start costs no fsync
    // otherwise.
    json now_table = json::array();
    for (const auto& j : jobs)
        now_table.push_back(to_json(j));
    if (!stored || (*stored)["jobs"] != now_table)
        store_.save_jobs(jobs);
    for (const auto& r : missed)
        append_run(r);
    std::lock_guard lock(mutex_);
    jobs_ = std::move(jobs);
}

void scheduler::start() {
    loops_ += 1;
    asio::co_spawn(ex_, loop(), [this](const std::exception_ptr& e) {
        if (e)
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log::error("tasks: the scheduler stopped: {}", ex.what());
            }
        loops_ -= 1;
    });
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ >= 0 && ::inotify_add_watch(inotify_fd_, zones::directory().c_str(),
                                                IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE) >= 0) {
        loops_ += 1;
        asio::co_spawn(ex_, watch_zoneinfo(), [this](const std::exception_ptr&) { loops_ -= 1; });
    } else if (inotify_fd_ >= 0) {
        ::close(std::exchange(inotify_fd_, -1));
    }
}

void scheduler::stop() noexcept {
    if (stopping_.exchange(true))
        return;
    out_.abort_all();
    try {
        clock_.interrupt();
        if (inotify_fd_ >= 0)
            asio::post(ex_, [fd = inotify_fd_] { ::inotify_rm_watch(fd, 1); });
    } catch (const std::exception& e) {
        log::error("tasks: stopping the scheduler: {}", e.what());
    }
}

bool scheduler::stopped() const noexcept {
    return loops_ == 0 && in_flight_ == 0;
}

asio::awaitable<void> scheduler::loop() {
    while (!stopping_) {
        auto now = clock_.now();
        std::optional<sys_ms> wake;
        auto take = [&] { return take_due(now, wake); };
        auto due = co_await pool_.call(take);
        for (auto& id : due)
            spawn_run(std::move(id));
        if (stopping_)
            break;
        co_await clock_.sleep_until(wake.value_or(now + 24h));
    }
}

// The inotify watch on the zoneinfo directory: a tzdata update rewrites tzdata.zi there.
asio::awaitable<void> scheduler::watch_zoneinfo() {
    asio::posix::stream_descriptor watch(ex_, inotify_fd_);
    char buf[4096];
    while (!stopping_) {
        auto [ec, n] = co_await watch.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec || stopping_)
            break;
        // IN_IGNORED (the watch was removed by stop()) ends it too.
        bool ignored = false;
        for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
            auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
            ignored = ignored || (ev->mask & IN_IGNORED);
            at += sizeof(inotify_event) + ev->len;
        }
        if (ignored)
            break;
        auto refresh = [this] { refresh_zones(); };
        co_await pool_.run(refresh);
    }
}

std::vector<std::string> scheduler::take_due(sys_ms now, std::optional<sys_ms>& wake) {
    std::lock_guard w(write_mutex_);
    auto jobs = copy();
    std::vector<std::string> due;
    std::vector<run> late;
    bool changed = false;
    for (auto& j : jobs) {
        auto before = j.state.next_run_at_ms;
        if (j.enabled() && before && *before <= now.time_since_epoch().count()) {
            sys_ms at{std::chrono::milliseconds(*before)};
            if (now - at > late_limit) {
                late.push_back(skipped_run(j, at,
                                           "missed: the clock passed " + iso(at) + " by " +
                                               std::to_string((now - at) / 1s) + " s"));
                j.state.last_status = "skipped";
                j.state.last_error = late.back().error;
            } else {
                due.push_back(j.id());
            }
            if (j.when.kind == schedule_kind::at)
                j.spec["enabled"] = false;
        }
        set_next(j, now);
        changed = changed || j.state.next_run_at_ms != before || !late.empty();
        if (j.state.next_run_at_ms) {
            sys_ms n{std::chrono::milliseconds(*j.state.next_run_at_ms)};
            wake = wake ? std::min(*wake, n) : n;
        }
    }
    if (changed) {
        try {
            store_.save_jobs(jobs);
            for (const auto& r : late)
                append_run(r);
        } catch (const std::exception& e) {
            log::error("tasks: cannot store the task table: {}", e.what());
        }
        std::lock_guard lock(mutex_);
        jobs_ = std::move(jobs);
        version_ += 1;
    }
    return due;
}

void scheduler::spawn_run(std::string id) {
    in_flight_ += 1;
    // Each lambda gets its own copy of the id: they are built in an unspecified order, so one moving from
    // `id` could leave the other's copy (the log's) empty.
    std::string shown = id;
    asio::co_spawn(
        ex_,
        [this, id = std::move(id)]() -> asio::awaitable<void> {
            in_flight_ -= 1; // execute() counts itself
            co_await execute(id, "schedule");
        },
        [id = std::move(shown)](const std::exception_ptr& e) {
            if (e)
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log::error("tasks: run of {} failed: {}", id, ex.what());
                }
        });
}

asio::awaitable<json> scheduler::execute(std::string id, std::string trigger) {
    std::optional<job> j;
    bool busy = false;
    {
        std::lock_guard lock(mutex_);
        auto it = find(jobs_, id);
        if (it == jobs_.end())
            co_return json();
        j = *it;
        busy = !running_.insert(id).second;
    }
    version_ += 1;
    in_flight_ += 1;
    scope_exit count([this] { in_flight_ -= 1; });
    run r;
    r.id = new_job_id();
    r.job_id = id;
    r.trigger = std::move(trigger);
    r.started = clock_.now();
    auto began = std::chrono::steady_clock::now();
    if (busy) {
        r.status = "skipped";
        r.error = "the previous run is still going";
    } else {
        outcome o;
        try {
            o = co_await out_.deliver(*j, j->run_timeout());
        } catch (const std::exception& e) {
            o.status = "error";
            o.error = e.what();
        }
        if (stopping_ && o.status == "error")
            o.error = "the daemon stopped during the run (" + o.error.value_or("") + ")";
        r.status = std::move(o.status);
        r.error = std::move(o.error);
        r.output = std::move(o.output);
    }
    // Every run is recorded, whatever its output (docs/api.md §14).
    make_recordable(r.output);
    make_recordable(r.error);
    r.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began)
            .count();
    try {
        auto record = [&] { finish(r, !busy); };
        co_await pool_.run(record);
    } catch (const std::exception& e) {
        log::error("tasks: cannot record the run of {}: {}", id, e.what());
    }
    if (!busy) {
        std::lock_guard lock(mutex_);
        running_.erase(id);
        version_ += 1;
    }
    log::info("tasks: {} ({}) {}{}{}", id, r.trigger, r.status, r.error ? ": " : "", r.error.value_or(""));
    json shown = to_json(r);
    shown.erase("startedAtMs");
    co_return shown;
}

void scheduler::finish(const run& r, bool ran) {
    std::lock_guard w(write_mutex_);
    auto jobs = copy();
    auto it = find(jobs, r.job_id);
    if (it == jobs.end())
        return; // deleted while it ran: its history went with it
    // The job's state first, then the history: whoever sees the run listed sees the state it left.
    if (ran) {
        auto& s = it->state;
        s.last_run_at_ms = r.started.time_since_epoch().count();
        s.last_status = r.status;
        s.last_error = r.error;
        s.last_duration_ms = r.duration_ms;
        s.consecutive_errors = r.status == "error" ? s.consecutive_errors + 1 : 0;
        commit(std::move(jobs));
    }
    append_run(r);
}

namespace {
std::size_t status_index(std::string_view status) {
    return status == "ok" ? 0 : status == "error" ? 1 : 2;
}
} // namespace

void scheduler::append_run(const run& r) {
    runs_by_status_[status_index(r.status)].add();
    store_.append_run(r);
}

const metrics::counter& scheduler::runs_with(std::string_view status) const noexcept {
    return runs_by_status_[status_index(status)];
}

std::vector<job> scheduler::copy() const {
    std::lock_guard lock(mutex_);
    return jobs_;
}

void scheduler::commit(std::vector<job> jobs) {
    store_.save_jobs(jobs);
    {
        std::lock_guard lock(mutex_);
        jobs_ = std::move(jobs);
    }
    version_ += 1;
    clock_.interrupt(); // the next wake may have moved
}

std::vector<json> scheduler::list(bool include_disabled) const {
    std::lock_guard lock(mutex_);
    std::vector<json> out;
    for (const auto& j : jobs_)
        if (include_disabled || j.enabled())
            out.push_back(to_json(j));
    return out;
}

json scheduler::create(const json& body) {
    std::lock_guard w(write_mutex_);
    auto now = clock_.now();
    auto j = make_job(body, zones_, now);
    auto jobs = copy();
    if (jobs.size() >= max_jobs)
        throw invalid_job("at most 20 tasks (delete one first)");
    if (find(jobs, j.id()) != jobs.end())
        throw duplicate_job("A task with id " + j.id() + " exists");
    set_next(j, now);
    json shown = to_json(j);
    jobs.push_back(std::move(j));
    store_.remove_runs(shown["id"].get<std::string>()); // a history left by a kill before an earlier delete
    commit(std::move(jobs));
    return shown;
}

std::optional<json> scheduler::get(std::string_view id) const {
    std::lock_guard lock(mutex_);
    for (const auto& j : jobs_)
        if (j.id() == id)
            return to_json(j);
    return std::nullopt;
}

std::optional<json> scheduler::update(std::string_view id, const json& patch) {
    std::lock_guard w(write_mutex_);
    auto now = clock_.now();
    auto jobs = copy();
    auto it = find(jobs, id);
    if (it == jobs.end())
        return std::nullopt;
    *it = update_job(*it, patch, zones_, now);
    set_next(*it, now);
    json shown = to_json(*it);
    commit(std::move(jobs));
    return shown;
}

bool scheduler::remove(std::string_view id) {
    std::lock_guard w(write_mutex_);
    auto jobs = copy();
    auto it = find(jobs, id);
    if (it == jobs.end())
        return false;
    jobs.erase(it);
    commit(std::move(jobs));
    store_.remove_runs(id);
    return true;
}

std::optional<std::vector<json>> scheduler::runs(std::string_view id, std::size_t limit) const {
    if (!get(id))
        return std::nullopt;
    return store_.runs(id, limit);
}

asio::awaitable<std::optional<json>> scheduler::run_now(std::string id) {
    auto r = co_await execute(std::move(id), "manual");
    if (r.is_null())
        co_return std::nullopt;
    co_return r;
}

json scheduler::summary() const {
    std::lock_guard lock(mutex_);
    std::size_t enabled = 0;
    std::optional<std::int64_t> next, last;
    json last_status;
    for (const auto& j : jobs_) {
        enabled += j.enabled() ? 1 : 0;
        if (j.state.next_run_at_ms && (!next || *j.state.next_run_at_ms < *next))
            next = j.state.next_run_at_ms;
        if (j.state.last_run_at_ms && (!last || *j.state.last_run_at_ms > *last)) {
            last = j.state.last_run_at_ms;
            last_status = j.state.last_status ? json(*j.state.last_status) : json();
        }
    }
    auto when = [](const std::optional<std::int64_t>& ms) {
        return ms ? json(iso(sys_ms{std::chrono::milliseconds(*ms)})) : json();
    };
    return {{"jobs", jobs_.size()},    {"enabled", enabled},      {"running", running_.size()},
            {"nextRunAt", when(next)}, {"lastRunAt", when(last)}, {"lastStatus", last_status}};
}

void scheduler::refresh_zones() {
    zones_.forget();
    std::lock_guard w(write_mutex_);
    auto jobs = copy();
    auto now = clock_.now();
    for (auto& j : jobs) {
        try {
            reparse_schedule(j, zones_);
        } catch (const invalid_job& e) {
            log::error("tasks: {} keeps its old time zone rules: {}", j.id(), e.what());
        }
        set_next(j, now);
    }
    try {
        commit(std::move(jobs));
    } catch (const std::exception& e) {
        log::error("tasks: cannot store the task table: {}", e.what());
    }
}

} // namespace ag::tasks
