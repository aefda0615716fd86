// POST …/console/exec (docs/api.md §8).
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "engine/exec.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "metrics/work.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cmath>

namespace ag {
namespace {

constexpr int max_concurrent_execs = 16;

[[noreturn]] void bad(const std::string& message) {
    throw api_error(error_kind::bad_request, message);
}

// Counts this exec against the limit for as long as it runs.
struct exec_slot {
    exec_slot(const exec_slot&) = delete;
    exec_slot& operator=(const exec_slot&) = delete;
    std::atomic<int>& running;
    explicit exec_slot(std::atomic<int>& r)
        : running(r) {}
    ~exec_slot() { running.fetch_sub(1); }
};

engine::exec_request parse_exec(const console_routes& area, const nlohmann::json& body) {
    const config& cfg = area.cfg;
    engine::exec_request req;
    auto command = body.find("command");
    if (command == body.end() || !command->is_string() || command->get<std::string>().empty())
        bad("Invalid command");
    req.command = command->get<std::string>();
    if (req.command.find('\0') != std::string::npos)
        bad("Invalid command");

    req.cwd = cfg.workspace;
    if (auto cwd = body.find("cwd"); cwd != body.end() && !cwd->is_null()) {
        if (!cwd->is_string())
            bad("Invalid cwd");
        req.cwd = console_cwd(cfg, cwd->get<std::string>());
    }

    double timeout = cfg.exec_timeout;
    if (auto t = body.find("timeoutSeconds"); t != body.end() && !t->is_null()) {
        if (!t->is_number())
            bad("Invalid timeoutSeconds: must be a number");
        timeout = t->get<double>();
        if (!std::isfinite(timeout) || timeout <= 0 || timeout > cfg.exec_timeout_max)
            bad("Invalid timeoutSeconds: must be greater than 0 and at most " +
                std::to_string(cfg.exec_timeout_max));
    }
    req.timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(timeout * 1000)));

    req.env.emplace_back("AGENT_ID", cfg.agent_id);
    if (auto env = body.find("env"); env != body.end() && !env->is_null()) {
        if (!env->is_object())
            bad("Invalid env: must be an object of strings");
        for (auto& [k, v] : env->items()) {
            if (!v.is_string() || k.empty() || k.find('=') != std::string::npos ||
                k.find('\0') != std::string::npos || v.get<std::string>().find('\0') != std::string::npos)
                // The name is quoted as JSON: a NUL in it must not cut the message short.
                bad("Invalid env: " +
                    nlohmann::json(k).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                    " must be a name without '=' with a string value");
            req.env.emplace_back(k, v.get<std::string>());
        }
    }
    if (auto in = body.find("stdin"); in != body.end() && !in->is_null()) {
        if (!in->is_string())
            bad("Invalid stdin: must be a string");
        req.stdin_data = in->get<std::string>();
    }
    req.max_output = static_cast<std::size_t>(cfg.exec_max_output);
    return req;
}

boost::asio::awaitable<response> post_exec(const console_routes& area, request& http_req) {
    auto req = parse_exec(area, http_req.json_body());
    if (area.execs_running.fetch_add(1) >= max_concurrent_execs) {
        area.execs_running.fetch_sub(1);
        throw api_error(error_kind::rate_limited, "Too many commands running (at most 16 at once)");
    }
    exec_slot slot(area.execs_running);
    std::string command = req.command;
    std::string timestamp = time_format::iso8601_ms_now();
    engine::exec_result result;
    try {
        metrics::timed took(area.counted.exec_seconds);
        result = co_await engine::run_exec(area.reaper, std::move(req));
    } catch (const std::system_error& e) {
        if (e.code().value() == E2BIG)
            throw api_error(error_kind::bad_request,
                            "Invalid env: the environment is larger than the system lets a process have");
        log::error("exec: cannot start /bin/sh: {}", e.what());
        throw api_error(error_kind::internal, "Execution failed");
    }
    if (result.timed_out)
        area.counted.exec_timeouts.add();
    co_return json_response({{"stdout", std::move(result.stdout_text)},
                             {"stderr", std::move(result.stderr_text)},
                             {"exitCode", result.exit_code},
                             {"command", std::move(command)},
                             {"timestamp", std::move(timestamp)},
                             {"durationMs", result.duration.count()},
                             {"timedOut", result.timed_out},
                             {"truncated", result.truncated},
                             {"signal", result.signal},
                             {"oomKilled", result.oom_killed}});
}

} // namespace

std::string console_cwd(const config& cfg, std::string_view cwd) {
    std::string out = cfg.workspace;
    if (!cwd.empty())
        out = cwd.front() == '/' ? std::string(cwd) : cfg.root + "/" + std::string(cwd);
    struct stat st {};
    if (cwd.find('\0') != std::string_view::npos || ::stat(out.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        bad("Invalid cwd");
    return out;
}

void console_routes::add_to(router& r) const {
    const console_routes& area = *this;
    route_options opts;
    opts.body_limit = 8 * 1024 * 1024; // a command plus its stdin
    r.add(
        method::post, "/v0/agents/{agentId}/console/exec",
        [area](request& req) { return post_exec(area, req); }, opts);
}

} // namespace ag
