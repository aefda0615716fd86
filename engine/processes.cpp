#include "engine/processes.hpp"

#include "engine/child_reaper.hpp"
#include "engine/exec.hpp"
#include "engine/output_log.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <random>
#include <system_error>

namespace ag::engine {
namespace {

using clock = std::chrono::steady_clock;
constexpr auto forever = std::chrono::hours(24 * 365 * 200);

std::string new_id() {
    std::random_device rd;
    std::uniform_int_distribution<unsigned> byte(0, 255);
    std::string id = "p-";
    for (int i = 0; i < 8; ++i)
        id += fmt::format("{:02x}", byte(rd));
    return id;
}

nlohmann::json record_json(const process_info& i, const process_spec_request& spec) {
    nlohmann::json j = {{"id", i.id},
                        {"name", i.name},
                        {"command", i.command},
                        {"status", i.status},
                        {"exitCode", i.exit_code ? nlohmann::json(*i.exit_code) : nlohmann::json()},
                        {"signal", i.signal ? nlohmann::json(*i.signal) : nlohmann::json()},
                        {"oomKilled", i.oom_killed},
                        {"restarts", i.restarts},
                        {"startedAt", i.started_at},
                        {"endedAt", i.ended_at ? nlohmann::json(*i.ended_at) : nlohmann::json()},
                        {"outputBytes", i.output_bytes},
                        {"durationMs", i.duration_ms},
                        {"restart", restart_policy_name(spec.restart)}};
    return j;
}

process_info info_from_json(const nlohmann::json& j) {
    process_info i;
    i.id = j.at("id").get<std::string>();
    i.name = j.value("name", "");
    i.command = j.value("command", "");
    i.status = j.value("status", "killed");
    if (j.contains("exitCode") && j["exitCode"].is_number_integer())
        i.exit_code = j["exitCode"].get<int>();
    if (j.contains("signal") && j["signal"].is_number_integer())
        i.signal = j["signal"].get<int>();
    i.oom_killed = j.value("oomKilled", false);
    i.restarts = j.value("restarts", 0U);
    i.started_at = j.value("startedAt", "");
    if (j.contains("endedAt") && j["endedAt"].is_string())
        i.ended_at = j["endedAt"].get<std::string>();
    i.output_bytes = j.value("outputBytes", std::uint64_t{0});
    i.duration_ms = j.value("durationMs", std::int64_t{0});
    return i;
}

// A record's id names a directory under STATE: nothing but what new_id() makes.
bool plausible_id(std::string_view id) {
    return id.size() > 2 && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-';
           });
}

} // namespace

std::optional<restart_policy> parse_restart_policy(std::string_view name) noexcept {
    if (name == "never")
        return restart_policy::never;
    if (name == "on-failure")
        return restart_policy::on_failure;
    if (name == "always")
        return restart_policy::always;
    return std::nullopt;
}

std::string_view restart_policy_name(restart_policy p) noexcept {
    switch (p) {
    case restart_policy::never:
        return "never";
    case restart_policy::on_failure:
        return "on-failure";
    case restart_policy::always:
        return "always";
    }
    return "never";
}

bool should_restart(restart_policy p, bool succeeded, unsigned restarts,
                    std::optional<unsigned> max_restarts) noexcept {
    if (p == restart_policy::never || (p == restart_policy::on_failure && succeeded))
        return false;
    return !max_restarts || restarts < *max_restarts;
}

process::process(std::string id, std::shared_ptr<output_log> output)
    : id_(std::move(id))
    , output_(std::move(output)) {}
process::~process() = default;

process_info process::info() const {
    std::lock_guard lock(mutex_);
    return info_;
}

std::uint64_t process::subscribe(std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    watchers_.emplace_back(next_token_, std::move(wake));
    return next_token_++;
}

void process::unsubscribe(std::uint64_t token) {
    std::lock_guard lock(mutex_);
    std::erase_if(watchers_, [token](const auto& w) { return w.first == token; });
}

void process::notify() {
    std::vector<std::function<void()>> wakes;
    {
        std::lock_guard lock(mutex_);
        for (const auto& w : watchers_)
            wakes.push_back(w.second);
    }
    for (auto& w : wakes)
        w();
}

struct processes::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& io, child_reaper& r, blocking_pool& p, options o)
        : ioc(io)
        , reaper(r)
        , pool(p)
        , opt(std::move(o))
        , runs_done(io) {}

    asio::io_context& ioc;
    child_reaper& reaper;
    blocking_pool& pool;
    options opt;
    asio::steady_timer runs_done; // cancelled when the last run ends (ioc only)
    std::size_t runs_active = 0;  // ioc only

    mutable std::mutex mutex;
    std::vector<std::shared_ptr<process>> all; // in start order
    bool stopping = false;
    std::mutex save_mutex;

    std::string records_path() const { return opt.dir + "/records.json"; }

    // Writes the records as they are when the write runs (a later change schedules another).
    void save_now() {
        std::lock_guard w(save_mutex);
        nlohmann::json list = nlohmann::json::array();
        {
            std::lock_guard lock(mutex);
            for (const auto& p : all) {
                std::lock_guard plock(p->mutex_);
                list.push_back(record_json(p->info_, p->spec_));
            }
        }
        try {
            fs_util::write_file_atomic(records_path(), list.dump(), 0600);
        } catch (const std::exception& e) {
            log::warn("processes: cannot save the records: {}", e.what());
        }
    }
    void save() {
        try {
            pool.start([self = shared_from_this()] { self->save_now(); });
        } catch (const std::exception&) {
            // The pool has stopped: the shutdown's own save follows.
        }
    }

    // Drops the oldest ended records past keep_ended, and their output.
    void trim_ended() {
        std::vector<std::shared_ptr<process>> dropped;
        {
            std::lock_guard lock(mutex);
            std::vector<std::pair<std::string, std::shared_ptr<process>>> ended;
            for (const auto& p : all) {
                auto i = p->info();
                if (i.ended())
                    ended.emplace_back(i.ended_at.value_or(""), p);
            }
            if (ended.size() <= opt.keep_ended)
                return;
            std::sort(ended.begin(), ended.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; });
            ended.resize(ended.size() - opt.keep_ended);
            for (auto& [at, p] : ended) {
                std::erase(all, p);
                dropped.push_back(p);
            }
        }
        remove_output(std::move(dropped));
    }

    void remove_output(std::vector<std::shared_ptr<process>> gone) {
        if (gone.empty())
            return;
        try {
            pool.start([gone = std::move(gone)] {
                for (const auto& p : gone)
                    p->output().remove();
            });
        } catch (const std::exception&) {
            for (const auto& p : gone)
                p->output().remove();
        }
    }

    std::size_t live_count() const {
        std::size_t n = 0;
        for (const auto& p : all)
            if (!p->info().ended())
                ++n;
        return n;
    }

    // The record of a run that ended with `r` (or could not start: nullopt). Under p's lock, with the restart
    // decision: nobody may see the run ended without its restart pending.
    static void record_end(process& p, const std::optional<exec_result>& r, clock::time_point started) {
        auto& i = p.info_;
        i.pid.reset();
        i.ended_at = time_format::iso8601_ms_now();
        i.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count();
        if (!r) {
            i.status = "failed";
            i.exit_code = 127;
            i.signal = 0;
            return;
        }
        int st = r->wait_status;
        i.oom_killed = r->oom_killed;
        if (WIFSIGNALED(st)) {
            i.signal = WTERMSIG(st);
            i.exit_code = 128 + WTERMSIG(st);
            i.status = "killed";
        } else {
            i.signal = 0;
            i.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
            i.status = *i.exit_code == 0 ? "exited" : "failed";
        }
    }

    // One process from its first start to its last end, restarts included. `first` is cancelled once the
    // first start was tried.
    asio::awaitable<void> run(std::shared_ptr<process> p, std::shared_ptr<asio::steady_timer> first,
                              std::shared_ptr<bool> first_done) {
        auto self = shared_from_this();
        auto delay = opt.backoff.first;
        asio::steady_timer backoff(ioc);
        for (bool first_run = true;; first_run = false) {
            exec_request req;
            {
                std::lock_guard lock(p->mutex_);
                if (p->ending_ && !first_run)
                    break;
                p->stopper_ = std::make_shared<exec_stopper>();
                p->input_ = std::make_shared<exec_input>();
                req.stopper = p->stopper_;
                req.input = p->input_;
                req.command = p->spec_.command;
                req.cwd = p->spec_.cwd;
                req.env = opt.env;
                req.env.insert(req.env.end(), p->spec_.env.begin(), p->spec_.env.end());
            }
            req.timeout = forever;
            req.kill_grace = opt.end_grace;
            req.max_output = 0;
            auto started = clock::now();
            req.on_started = [this, p, first, first_done,
                              started_at = time_format::iso8601_ms_now()](pid_t pid) {
                {
                    std::lock_guard lock(p->mutex_);
                    p->info_.pid = pid;
                    p->info_.status = "running";
                    p->info_.started_at = started_at;
                    p->info_.restart_pending = false;
                    p->info_.ended_at.reset();
                    p->info_.exit_code.reset();
                    p->info_.signal.reset();
                    p->info_.oom_killed = false;
                }
                save();
                // The request that started it answers now, with the pid.
                if (!*first_done) {
                    *first_done = true;
                    first->cancel();
                }
            };
            req.on_output = [this, p](int stream, std::string_view data) -> asio::awaitable<void> {
                auto append = [&] { p->output().append(stream, data); };
                try {
                    co_await pool.run(append);
                } catch (const std::exception& e) {
                    log::warn("process {}: cannot keep its output: {}", p->id(), e.what());
                }
                {
                    std::lock_guard lock(p->mutex_);
                    p->info_.output_bytes += data.size();
                }
                p->notify();
            };
            std::optional<exec_result> result;
            try {
                result = co_await run_exec(reaper, std::move(req));
            } catch (const std::system_error& e) {
                log::error("process {}: cannot start /bin/sh: {}", p->id(), e.what());
            }
            if (first_run && !*first_done) {
                *first_done = true;
                first->cancel();
                if (!result) {
                    // Never ran: the request is told so, and nothing is kept.
                    {
                        std::lock_guard lock(mutex);
                        std::erase(all, p);
                    }
                    remove_output({p});
                    break;
                }
            }
            bool succeeded = result && result->wait_status == 0;
            bool restart = false;
            {
                std::lock_guard lock(p->mutex_);
                record_end(*p, result, started);
                restart = !p->ending_ && should_restart(p->spec_.restart, succeeded, p->info_.restarts,
                                                        p->spec_.max_restarts);
                if (restart) {
                    ++p->info_.restarts;
                    p->info_.restart_pending = true;
                }
            }
            if (!restart)
                break;
            if (clock::now() - started >= opt.backoff.reset_after)
                delay = opt.backoff.first;
            log::info("process {} ended; restarting in {} ms", p->id(), delay.count());
            save();
            p->notify();
            backoff.expires_after(delay);
            {
                std::lock_guard lock(p->mutex_);
                p->backoff_ = &backoff;
            }
            co_await backoff.async_wait(use_tuple);
            {
                std::lock_guard lock(p->mutex_);
                p->backoff_ = nullptr;
                if (p->ending_)
                    p->info_.restart_pending = false;
            }
            delay = std::min(delay * 2, opt.backoff.max);
        }
        bool forgotten = false;
        {
            std::lock_guard lock(p->mutex_);
            p->info_.restart_pending = false;
            forgotten = p->forgotten_;
        }
        if (forgotten)
            remove_output({p});
        trim_ended();
        save();
        p->notify();
        if (--runs_active == 0)
            runs_done.cancel();
    }

    asio::awaitable<std::pair<std::optional<process_info>, start_error>> start_here(process_spec_request r) {
        auto self = shared_from_this();
        std::string id = new_id();
        {
            std::lock_guard lock(mutex);
            if (stopping)
                co_return std::pair{std::nullopt, start_error::cannot_start};
            if (live_count() >= opt.max_running)
                co_return std::pair{std::nullopt, start_error::too_many};
        }
        auto make_log = [&] { return std::make_shared<output_log>(opt.dir + "/" + id, opt.output_bytes); };
        std::shared_ptr<output_log> out;
        try {
            out = co_await pool.call(make_log);
        } catch (const std::exception& e) {
            log::error("process {}: cannot keep its output: {}", id, e.what());
            co_return std::pair{std::nullopt, start_error::cannot_start};
        }
        auto p = std::shared_ptr<process>(new process(id, out));
        p->spec_ = std::move(r);
        p->info_.id = id;
        p->info_.name = p->spec_.name;
        p->info_.command = p->spec_.command;
        p->info_.status = "running";
        p->info_.started_at = time_format::iso8601_ms_now();
        {
            std::lock_guard lock(mutex);
            // Checked again: another start may have taken the last place while the log was made.
            if (stopping || live_count() >= opt.max_running) {
                bool too_many = !stopping;
                out->remove();
                co_return std::pair{std::nullopt,
                                    too_many ? start_error::too_many : start_error::cannot_start};
            }
            all.push_back(p);
        }
        auto first = std::make_shared<asio::steady_timer>(ioc, clock::time_point::max());
        auto first_done = std::make_shared<bool>(false);
        ++runs_active;
        asio::co_spawn(ioc, run(p, first, first_done), asio::detached);
        while (!*first_done)
            co_await first->async_wait(use_tuple);
        bool kept = false;
        {
            std::lock_guard lock(mutex);
            kept = std::find(all.begin(), all.end(), p) != all.end();
        }
        if (!kept)
            co_return std::pair{std::nullopt, start_error::cannot_start};
        co_return std::pair{p->info(), start_error::none};
    }

    // Ends a process's run and its restarts: SIGTERM, SIGKILL after `grace`.
    void end(const std::shared_ptr<process>& p, std::chrono::milliseconds grace) {
        std::shared_ptr<exec_stopper> stopper;
        {
            std::lock_guard lock(p->mutex_);
            p->ending_ = true;
            stopper = p->stopper_;
        }
        if (stopper)
            stopper->stop(grace);
        asio::post(ioc, [p] {
            std::lock_guard lock(p->mutex_);
            if (p->backoff_)
                static_cast<asio::steady_timer*>(p->backoff_)->cancel();
        });
    }

    asio::awaitable<void> stop_here() {
        std::vector<std::shared_ptr<process>> live;
        {
            std::lock_guard lock(mutex);
            stopping = true;
            for (const auto& p : all)
                if (!p->info().ended())
                    live.push_back(p);
        }
        if (!live.empty())
            log::info("stopping {} background process(es)", live.size());
        for (const auto& p : live)
            end(p, opt.backoff.kill_after);
        while (runs_active > 0) {
            runs_done.expires_at(clock::time_point::max());
            co_await runs_done.async_wait(use_tuple);
        }
        auto save_job = [this] { save_now(); };
        try {
            co_await pool.run(save_job);
        } catch (const std::exception&) {
            save_now();
        }
    }
};

processes::processes(asio::io_context& ioc, child_reaper& reaper, blocking_pool& pool, options o)
    : impl_(std::make_shared<impl>(ioc, reaper, pool, std::move(o))) {}
processes::~processes() = default;

void processes::load() {
    fs_util::make_directories(impl_->opt.dir, 0700);
    fs_util::remove_leftover_temps(impl_->records_path());
    auto text = fs_util::read_file(impl_->records_path());
    if (!text)
        return;
    nlohmann::json list;
    try {
        list = nlohmann::json::parse(*text);
    } catch (const std::exception& e) {
        log::warn("processes: {} is not readable, starting without records: {}", impl_->records_path(),
                  e.what());
        return;
    }
    if (!list.is_array())
        return;
    std::lock_guard lock(impl_->mutex);
    for (const auto& j : list) {
        try {
            auto info = info_from_json(j);
            if (!plausible_id(info.id))
                continue;
            if (info.status == "running") {
                // The daemon went without ending it (a crash): it is gone with the daemon's group or not
                // ours any more.
                info.status = "killed";
                info.pid.reset();
                if (!info.ended_at)
                    info.ended_at = time_format::iso8601_ms_now();
            }
            auto out = std::make_shared<output_log>(impl_->opt.dir + "/" + info.id, impl_->opt.output_bytes);
            info.output_bytes = out->end();
            auto p = std::shared_ptr<process>(new process(info.id, out));
            p->spec_.name = info.name;
            p->spec_.command = info.command;
            p->spec_.restart =
                parse_restart_policy(j.value("restart", "never")).value_or(restart_policy::never);
            p->info_ = std::move(info);
            p->ending_ = true;
            impl_->all.push_back(std::move(p));
        } catch (const std::exception& e) {
            log::warn("processes: a record could not be read: {}", e.what());
        }
    }
}

asio::awaitable<std::pair<std::optional<process_info>, processes::start_error>>
processes::start(process_spec_request r) {
    auto started = co_await asio::co_spawn(impl_->ioc, impl_->start_here(std::move(r)), asio::use_awaitable);
    co_return started;
}

std::vector<process_info> processes::list() const {
    std::vector<process_info> out;
    std::lock_guard lock(impl_->mutex);
    for (const auto& p : impl_->all)
        out.push_back(p->info());
    return out;
}

std::shared_ptr<process> processes::find(std::string_view id) const {
    std::lock_guard lock(impl_->mutex);
    for (const auto& p : impl_->all)
        if (p->id() == id)
            return p;
    return nullptr;
}

processes::input_result processes::write_input(std::string_view id, std::string data, bool close) {
    auto p = find(id);
    if (!p)
        return input_result::unknown;
    std::shared_ptr<exec_input> input;
    {
        std::lock_guard lock(p->mutex_);
        if (p->info_.status != "running" || p->info_.restart_pending)
            return input_result::not_running;
        input = p->input_;
    }
    if (!input)
        return input_result::not_running;
    auto r = exec_input::outcome::queued;
    if (!data.empty())
        r = input->write(std::move(data));
    if (r == exec_input::outcome::queued && close)
        r = input->close();
    switch (r) {
    case exec_input::outcome::queued:
        return input_result::written;
    case exec_input::outcome::not_running:
        return input_result::not_running;
    case exec_input::outcome::closed:
        return input_result::closed;
    case exec_input::outcome::full:
        return input_result::full;
    }
    return input_result::closed;
}

processes::signal_result processes::send_signal(std::string_view id, int sig) {
    auto p = find(id);
    if (!p)
        return signal_result::unknown;
    std::lock_guard lock(p->mutex_);
    if (!p->info_.pid)
        return signal_result::not_running;
    ::kill(-*p->info_.pid, sig);
    return signal_result::sent;
}

bool processes::remove(std::string_view id) {
    std::shared_ptr<process> p;
    {
        std::lock_guard lock(impl_->mutex);
        auto it =
            std::find_if(impl_->all.begin(), impl_->all.end(), [id](const auto& q) { return q->id() == id; });
        if (it == impl_->all.end())
            return false;
        p = *it;
        impl_->all.erase(it);
    }
    bool ended = false;
    {
        std::lock_guard lock(p->mutex_);
        p->forgotten_ = true;
        ended = p->info_.ended();
    }
    if (ended)
        impl_->remove_output({p});
    else
        impl_->end(p, impl_->opt.end_grace);
    impl_->save();
    return true;
}

asio::awaitable<void> processes::stop() {
    co_await asio::co_spawn(impl_->ioc, impl_->stop_here(), asio::use_awaitable);
}

} // namespace ag::engine
