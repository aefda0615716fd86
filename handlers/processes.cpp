// Background processes (docs/api.md §18): start, list, one, stdin, signals, removal, and the output as NDJSON
// lines (followed as it grows with follow=true).
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "engine/output_log.hpp"
#include "engine/processes.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "handlers/output_lines.hpp"
#include "handlers/stream_viewer.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "util/scope_exit.hpp"
#include "util/text.hpp"

#include <boost/asio/this_coro.hpp>
#include <nlohmann/json.hpp>

#include <csignal>

namespace ag {
namespace {

constexpr std::size_t read_chunk = 256 * 1024;
constexpr std::int64_t max_restarts_limit = 1000000;
constexpr std::size_t max_name = 128;

[[noreturn]] void not_found() {
    throw api_error(error_kind::not_found, "Process not found");
}

nlohmann::json optional_json(const auto& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
}

nlohmann::json info_json(const engine::process_info& i) {
    return {{"id", i.id},
            {"name", i.name},
            {"command", i.command},
            {"pid", optional_json(i.pid)},
            {"status", i.status},
            {"exitCode", optional_json(i.exit_code)},
            {"signal", optional_json(i.signal)},
            {"oomKilled", i.oom_killed},
            {"restarts", i.restarts},
            {"restartPending", i.restart_pending},
            {"startedAt", i.started_at},
            {"endedAt", optional_json(i.ended_at)},
            {"outputBytes", i.output_bytes}};
}

std::optional<int> signal_number(std::string_view name) {
    if (name.starts_with("SIG"))
        name.remove_prefix(3);
    static constexpr std::pair<std::string_view, int> known[] = {
        {"INT", SIGINT},   {"TERM", SIGTERM}, {"KILL", SIGKILL}, {"HUP", SIGHUP},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"STOP", SIGSTOP}, {"CONT", SIGCONT}};
    for (const auto& [n, sig] : known)
        if (n == name)
            return sig;
    return std::nullopt;
}

engine::process_spec_request parse_start(const process_routes& area, const nlohmann::json& body) {
    engine::process_spec_request r;
    auto command = body.find("command");
    if (command == body.end() || !command->is_string() || command->get<std::string>().empty() ||
        command->get<std::string>().find('\0') != std::string::npos)
        bad_request("Invalid command");
    r.command = command->get<std::string>();
    std::string cwd;
    if (auto c = body.find("cwd"); c != body.end() && !c->is_null()) {
        if (!c->is_string())
            bad_request("Invalid cwd");
        cwd = c->get<std::string>();
    }
    r.cwd = console_cwd(area.cfg, cwd);
    r.env = console_env(body);
    if (auto n = body.find("name"); n != body.end() && !n->is_null()) {
        if (!n->is_string() || n->get<std::string>().empty() || n->get<std::string>().size() > max_name)
            bad_request("Invalid name: must be a string of 1 to 128 bytes");
        r.name = text::to_valid_utf8(n->get<std::string>());
    } else {
        r.name = text::to_valid_utf8(text::utf8_prefix(r.command, 64));
    }
    if (auto p = body.find("restart"); p != body.end() && !p->is_null()) {
        auto policy = p->is_string() ? engine::parse_restart_policy(p->get<std::string>()) : std::nullopt;
        if (!policy)
            bad_request("Invalid restart: must be never, on-failure or always");
        r.restart = *policy;
    }
    if (auto m = body.find("maxRestarts"); m != body.end() && !m->is_null()) {
        if (!m->is_number_integer() || m->get<std::int64_t>() < 0 ||
            m->get<std::int64_t>() > max_restarts_limit)
            bad_request("Invalid maxRestarts: must be an integer from 0 to 1000000");
        r.max_restarts = static_cast<unsigned>(m->get<std::int64_t>());
    }
    return r;
}

asio::awaitable<response> post_process(const process_routes& area, request& req) {
    auto spec = parse_start(area, req.json_body());
    auto [info, err] = co_await area.procs.start(std::move(spec));
    if (err == engine::processes::start_error::too_many)
        throw api_error(error_kind::rate_limited, "Too many processes running (at most 32 at once)");
    if (!info)
        throw api_error(error_kind::internal, "Cannot start the process");
    co_return json_response({{"id", info->id},
                             {"name", info->name},
                             {"pid", optional_json(info->pid)},
                             {"status", "running"},
                             {"startedAt", info->started_at}},
                            201);
}

asio::awaitable<response> list_processes(const process_routes& area, request&) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& i : area.procs.list())
        list.push_back(info_json(i));
    co_return json_response({{"processes", std::move(list)}});
}

std::shared_ptr<engine::process> find(const process_routes& area, const request& req) {
    auto p = area.procs.find(req.param("id"));
    if (!p)
        not_found();
    return p;
}

asio::awaitable<response> get_process(const process_routes& area, request& req) {
    auto p = find(area, req);
    co_return json_response(info_json(p->info()));
}

asio::awaitable<response> post_input(const process_routes& area, request& req) {
    auto body = req.json_body();
    std::string data;
    if (auto d = body.find("data"); d != body.end() && !d->is_null()) {
        if (!d->is_string())
            bad_request("Invalid data: must be a string");
        data = d->get<std::string>();
    }
    bool close = false;
    if (auto c = body.find("close"); c != body.end() && !c->is_null()) {
        if (!c->is_boolean())
            bad_request("Invalid close: must be a boolean");
        close = c->get<bool>();
    }
    if (data.empty() && !close)
        bad_request("Invalid data: must be a non-empty string (or close: true)");
    auto bytes = data.size();
    switch (area.procs.write_input(req.param("id"), std::move(data), close)) {
    case engine::processes::input_result::written:
        break;
    case engine::processes::input_result::unknown:
        not_found();
    case engine::processes::input_result::not_running:
        throw api_error(error_kind::conflict, "Process is not running");
    case engine::processes::input_result::closed:
        throw api_error(error_kind::conflict, "Process stdin is closed");
    case engine::processes::input_result::full:
        throw api_error(error_kind::conflict, "Process is not reading its stdin (1 MiB waits already)");
    }
    co_return json_response({{"success", true}, {"bytes", bytes}});
}

asio::awaitable<response> post_signal(const process_routes& area, request& req) {
    auto body = req.json_body();
    auto s = body.find("signal");
    std::optional<int> sig;
    if (s != body.end() && s->is_string())
        sig = signal_number(s->get<std::string>());
    if (!sig)
        bad_request("Invalid signal: must be one of INT, TERM, KILL, HUP, USR1, USR2, STOP, CONT");
    switch (area.procs.send_signal(req.param("id"), *sig)) {
    case engine::processes::signal_result::sent:
        break;
    case engine::processes::signal_result::unknown:
        not_found();
    case engine::processes::signal_result::not_running:
        throw api_error(error_kind::conflict, "Process is not running");
    }
    co_return json_response({{"success", true}, {"signal", s->get<std::string>()}});
}

asio::awaitable<response> delete_process(const process_routes& area, request& req) {
    std::string id(req.param("id"));
    if (!area.procs.remove(id))
        not_found();
    co_return json_response({{"success", true}, {"id", id}});
}

// A follower's link to its writer, for wake-ups from the processes' thread.
struct follower {
    body_writer* out = nullptr;
    void poke() {
        if (out)
            out->wake();
    }
};

asio::awaitable<void> send_output(blocking_pool& pool, std::shared_ptr<engine::process> p,
                                  std::uint64_t after, bool follow, body_writer& out) {
    auto ex = co_await asio::this_coro::executor;
    auto link = std::make_shared<follower>();
    link->out = &out;
    auto token = p->subscribe(stream_viewer::waker(std::weak_ptr<follower>(link), ex));
    scope_exit unsubscribe([&] {
        p->unsubscribe(token);
        link->out = nullptr;
    });
    std::uint64_t pos = std::min(after, p->output().end());
    for (;;) {
        // Seen before the read: once ended, every byte is in the log.
        bool ended = p->info().ended();
        auto read = [&] { return p->output().read(pos, read_chunk); };
        auto got = co_await pool.call(read);
        std::string lines;
        auto before = pos;
        if (got.gap_to) {
            lines += output_lines::gap(pos, *got.gap_to);
            pos = *got.gap_to;
        }
        for (std::size_t i = 0; i < got.chunks.size(); ++i) {
            const auto& c = got.chunks[i];
            std::string_view data = c.data;
            // The last piece may end inside a character whose rest is still to come.
            if (!ended && i + 1 == got.chunks.size())
                data = output_lines::complete_prefix(data);
            if (data.empty())
                break;
            lines += output_lines::chunk(c.offset, c.stream, data);
            pos = c.offset + data.size();
        }
        if (!lines.empty()) {
            bool sent = co_await out.write(lines);
            if (!sent)
                co_return;
        }
        if (pos != before && pos < p->output().end())
            continue;
        if (ended) {
            auto i = p->info();
            nlohmann::json exit = {{"type", "exit"},
                                   {"exitCode", optional_json(i.exit_code)},
                                   {"signal", optional_json(i.signal)},
                                   {"oomKilled", i.oom_killed},
                                   {"durationMs", i.duration_ms}};
            co_await out.write(exit.dump() + "\n");
            co_return;
        }
        if (!follow)
            co_return;
        bool still_there = co_await out.idle();
        if (!still_there)
            co_return;
    }
}

asio::awaitable<response> get_output(const process_routes& area, request& req) {
    auto p = find(area, req);
    std::uint64_t after = 0;
    if (auto v = text::find_param(req.query, "after"); v && !v->empty()) {
        auto n = text::parse_u64(*v);
        if (!n)
            bad_request("Invalid after: must be a non-negative integer");
        after = *n;
    }
    bool follow = false;
    if (auto v = text::find_param(req.query, "follow"); v && !v->empty()) {
        if (*v != "true" && *v != "false" && *v != "1" && *v != "0")
            bad_request("Invalid follow: must be true or false");
        follow = *v == "true" || *v == "1";
    }
    response res;
    res.content_type = output_lines::content_type;
    res.headers.emplace_back("Cache-Control", "no-store");
    res.stream = [&pool = area.pool, p, after, follow](body_writer& out) {
        return send_output(pool, p, after, follow, out);
    };
    co_return res;
}

} // namespace

void process_routes::add_to(router& r) const {
    const process_routes& area = *this;
    route_options start_opts;
    start_opts.body_limit = 1024 * 1024; // a command and its environment
    r.add(
        method::post, "/v0/agents/{agentId}/processes",
        [area](request& req) { return post_process(area, req); }, start_opts);
    r.add(method::get, "/v0/agents/{agentId}/processes",
          [area](request& req) { return list_processes(area, req); });
    r.add(method::get, "/v0/agents/{agentId}/processes/{id}",
          [area](request& req) { return get_process(area, req); });
    route_options input_opts;
    input_opts.body_limit = 2 * 1024 * 1024; // 1 MiB of input, JSON-escaped
    r.add(
        method::post, "/v0/agents/{agentId}/processes/{id}/input",
        [area](request& req) { return post_input(area, req); }, input_opts);
    r.add(method::post, "/v0/agents/{agentId}/processes/{id}/signal",
          [area](request& req) { return post_signal(area, req); });
    r.add(method::delete_, "/v0/agents/{agentId}/processes/{id}",
          [area](request& req) { return delete_process(area, req); });
    r.add(method::get, "/v0/agents/{agentId}/processes/{id}/output",
          [area](request& req) { return get_output(area, req); });
}

} // namespace ag
