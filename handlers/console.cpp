// POST …/console/exec (docs/api.md §8).
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "engine/exec.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "handlers/output_lines.hpp"
#include "metrics/work.hpp"
#include "runtime/net.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cmath>

namespace ag {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr int max_concurrent_execs = 16;

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
        bad_request("Invalid command");
    req.command = command->get<std::string>();
    if (req.command.find('\0') != std::string::npos)
        bad_request("Invalid command");

    req.cwd = cfg.workspace;
    if (auto cwd = body.find("cwd"); cwd != body.end() && !cwd->is_null()) {
        if (!cwd->is_string())
            bad_request("Invalid cwd");
        req.cwd = console_cwd(cfg, cwd->get<std::string>());
    }

    double timeout = cfg.exec_timeout;
    if (auto t = body.find("timeoutSeconds"); t != body.end() && !t->is_null()) {
        if (!t->is_number())
            bad_request("Invalid timeoutSeconds: must be a number");
        timeout = t->get<double>();
        if (!std::isfinite(timeout) || timeout <= 0 || timeout > cfg.exec_timeout_max)
            bad_request("Invalid timeoutSeconds: must be greater than 0 and at most " +
                        std::to_string(cfg.exec_timeout_max));
    }
    req.timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(timeout * 1000)));

    req.env.emplace_back("AGENT_ID", cfg.agent_id);
    auto extra = console_env(body);
    req.env.insert(req.env.end(), extra.begin(), extra.end());
    if (auto in = body.find("stdin"); in != body.end() && !in->is_null()) {
        if (!in->is_string())
            bad_request("Invalid stdin: must be a string");
        req.stdin_data = in->get<std::string>();
    }
    req.max_output = static_cast<std::size_t>(cfg.exec_max_output);
    return req;
}

// What a streaming exec's two output streams (the producers) and its response's writer share; all on the
// connection's thread.
struct exec_stream {
    explicit exec_stream(const asio::any_io_executor& ex)
        : room(ex) {}
    std::vector<std::string> lines;
    std::size_t queued = 0;
    bool done = false;
    bool gone = false;
    body_writer* out = nullptr;
    asio::steady_timer room;  // cancelled when the writer took the lines
    std::uint64_t offset = 0; // of the next byte to go out, both streams counted
    std::string held[2];      // per stream: a character cut by a read, until its rest comes

    void push(std::string line) {
        queued += line.size();
        lines.push_back(std::move(line));
        if (out)
            out->wake();
    }
    void emit(int stream, std::string_view data) {
        if (data.empty())
            return;
        push(output_lines::chunk(offset, stream, data));
        offset += data.size();
    }
};

// Past this much waiting for a slow client, the command's output waits in its pipe (and the command with it).
constexpr std::size_t max_queued = 1024 * 1024;

asio::awaitable<void> take_output(std::shared_ptr<exec_stream> st, int stream, std::string_view data) {
    if (st->gone)
        co_return;
    std::string bytes = std::exchange(st->held[stream], {});
    bytes.append(data);
    auto now = output_lines::complete_prefix(bytes);
    st->held[stream] = bytes.substr(now.size());
    st->emit(stream, now);
    while (st->queued > max_queued && !st->gone) {
        st->room.expires_at(std::chrono::steady_clock::time_point::max());
        co_await st->room.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<void> run_streamed(console_routes area, engine::exec_request req,
                                   std::shared_ptr<exec_stream> st) {
    engine::exec_result result;
    bool started = true;
    try {
        metrics::timed took(area.counted.exec_seconds);
        result = co_await engine::run_exec(area.reaper, std::move(req));
    } catch (const std::system_error& e) {
        log::error("exec: cannot start /bin/sh: {}", e.what());
        started = false;
        result.exit_code = 127;
    }
    if (result.timed_out)
        area.counted.exec_timeouts.add();
    for (int s = 0; s < 2; ++s)
        st->emit(s, std::exchange(st->held[s], {}));
    nlohmann::json exit = {{"type", "exit"},
                           {"exitCode", result.exit_code},
                           {"signal", result.signal},
                           {"timedOut", result.timed_out},
                           {"oomKilled", result.oom_killed},
                           {"durationMs", result.duration.count()},
                           {"stdoutBytes", result.stdout_bytes},
                           {"stderrBytes", result.stderr_bytes}};
    if (!started)
        exit["error"] = "Execution failed";
    st->push(exit.dump() + "\n");
    st->done = true;
    if (st->out)
        st->out->wake();
}

// Sends the lines as they come; when the client goes, the command's group is ended.
asio::awaitable<void> write_streamed(std::shared_ptr<exec_stream> st, body_writer& out,
                                     std::shared_ptr<engine::exec_stopper> stopper) {
    for (;;) {
        if (!st->lines.empty()) {
            std::string batch;
            for (auto& l : st->lines)
                batch += l;
            st->lines.clear();
            st->queued = 0;
            st->room.cancel();
            bool sent = co_await out.write(batch);
            if (!sent)
                break;
            continue;
        }
        if (st->done)
            co_return;
        bool still_there = co_await out.idle();
        if (!still_there)
            break;
    }
    st->gone = true;
    st->room.cancel();
    stopper->stop();
}

// `slot` counts the command against the limit until it ends.
asio::awaitable<void> stream_exec(console_routes area, engine::exec_request req,
                                  std::shared_ptr<exec_slot> /*slot*/, body_writer& out) {
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<exec_stream>(ex);
    st->out = &out;
    auto stopper = std::make_shared<engine::exec_stopper>();
    req.stopper = stopper;
    req.on_output = [st](int stream, std::string_view data) { return take_output(st, stream, data); };
    // Both at once (asio's awaitable operator, not a short circuit), named apart from the co_await.
    auto both = run_streamed(area, std::move(req), st) && write_streamed(st, out, stopper);
    co_await std::move(both);
    st->out = nullptr;
}

// docs/api.md §18: NDJSON lines as they happen, asked for by Accept or ?stream=true.
bool wants_stream(const request& req) {
    if (auto s = text::find_param(req.query, "stream"); s && (*s == "true" || *s == "1"))
        return true;
    return req.header("Accept").find(output_lines::content_type) != std::string_view::npos;
}

boost::asio::awaitable<response> post_exec(const console_routes& area, request& http_req) {
    auto req = parse_exec(area, http_req.json_body());
    if (area.execs_running.fetch_add(1) >= max_concurrent_execs) {
        area.execs_running.fetch_sub(1);
        throw api_error(error_kind::rate_limited, "Too many commands running (at most 16 at once)");
    }
    if (wants_stream(http_req)) {
        // The slot is held for as long as the command runs, which is the response's body.
        auto held = std::make_shared<exec_slot>(area.execs_running);
        response res;
        res.content_type = output_lines::content_type;
        res.headers.emplace_back("Cache-Control", "no-store");
        res.stream = [area, req = std::move(req), held](body_writer& out) {
            return stream_exec(area, req, held, out);
        };
        co_return res;
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

std::vector<std::pair<std::string, std::string>> console_env(const nlohmann::json& body) {
    std::vector<std::pair<std::string, std::string>> out;
    auto env = body.find("env");
    if (env == body.end() || env->is_null())
        return out;
    if (!env->is_object())
        bad_request("Invalid env: must be an object of strings");
    for (auto& [k, v] : env->items()) {
        if (!v.is_string() || k.empty() || k.find('=') != std::string::npos ||
            k.find('\0') != std::string::npos || v.get<std::string>().find('\0') != std::string::npos)
            // The name is quoted as JSON: a NUL in it must not cut the message short.
            bad_request("Invalid env: " +
                        nlohmann::json(k).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                        " must be a name without '=' with a string value");
        out.emplace_back(k, v.get<std::string>());
    }
    return out;
}

std::string console_cwd(const config& cfg, std::string_view cwd) {
    std::string out = cfg.workspace;
    if (!cwd.empty())
        out = cwd.front() == '/' ? std::string(cwd) : cfg.root + "/" + std::string(cwd);
    struct stat st {};
    if (cwd.find('\0') != std::string_view::npos || ::stat(out.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        bad_request("Invalid cwd");
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
