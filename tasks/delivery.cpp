#include "tasks/delivery.hpp"
#include "util/scope_exit.hpp"

#include "runtime/blocking_pool.hpp"
#include "util/atomic_file.hpp"
#include "util/text.hpp"

#include <sys/stat.h>

namespace ag::tasks {
namespace {

using nlohmann::json;
constexpr int max_commands = 16; // as the console's limit

// Cut at a character boundary: the text goes into JSON, which takes only valid UTF-8.
std::string clip(std::string_view s, std::size_t n = 300) {
    if (s.size() <= n)
        return std::string(s);
    return std::string(text::utf8_prefix(s, n)) + "…";
}

// POST /hooks/agent's body (docs/api.md §14). (Outside the coroutine: GCC 12 cannot iterate an
// initializer list in one.)
json agent_turn_body(const job& j, std::chrono::seconds timeout) {
    const json& p = j.payload();
    const json& delivery = j.spec["delivery"];
    json body{{"message", p["message"]},
              {"name", j.spec["name"]},
              {"wakeMode", j.spec["wakeMode"]},
              {"timeoutSeconds", timeout.count()},
              {"deliver", delivery.is_object() && delivery.value("mode", "") == "announce"},
              {"waitForCompletion", true}};
    for (const char* key : {"model", "thinking"})
        if (p.contains(key))
            body[key] = p[key];
    if (delivery.is_object())
        for (const char* key : {"channel", "to"})
            if (delivery.contains(key))
                body[key] = delivery[key];
    return body;
}

} // namespace

engine_delivery::engine_delivery(delivery_config cfg, engine::child_reaper& reaper, blocking_pool& pool,
                                 std::atomic<int>& execs_running)
    : cfg_(std::move(cfg))
    , reaper_(reaper)
    , pool_(pool)
    , execs_running_(execs_running) {}

void engine_delivery::abort_all() noexcept {
    abort_.trip();
    stopper_->stop();
}

boost::asio::awaitable<outcome> engine_delivery::deliver(const job& j, std::chrono::seconds timeout) {
    const json& p = j.payload();
    auto kind = j.payload_kind();
    if (kind == "command")
        co_return co_await run_command(j, timeout);
    if (kind == "systemEvent") {
        json wake = json::object();
        wake["text"] = p["text"];
        wake["mode"] = j.spec["wakeMode"];
        co_return co_await post_hook("/hooks/wake", wake, timeout, false);
    }
    json body = agent_turn_body(j, timeout);
    co_return co_await post_hook("/hooks/agent", body, timeout, true);
}

boost::asio::awaitable<outcome> engine_delivery::post_hook(const std::string& path, const json& body,
                                                           std::chrono::seconds timeout, bool completion) {
    outcome o;
    o.status = "error";
    if (!cfg_.engine_url) {
        o.error = "no --engine-url: there is no engine to deliver to";
        co_return o;
    }
    // On the pool: the token file is read at each delivery (a rotated token is used at once), and the call
    // blocks until the engine answers or the run's time is up.
    auto post = [&] {
        upstream::request req;
        req.method = "POST";
        req.target = path;
        req.body = body.dump();
        req.headers.emplace_back("Content-Type", "application/json");
        if (cfg_.hooks_token_file) {
            auto token = fs_util::read_file(*cfg_.hooks_token_file);
            if (!token) {
                o.error = "cannot read the hooks token file " + *cfg_.hooks_token_file;
                return;
            }
            req.headers.emplace_back("Authorization", "Bearer " + std::string(text::trim(*token)));
        }
        upstream::limits lim;
        lim.timeout = timeout + std::chrono::seconds(10);
        lim.max_body = 4 * 1024 * 1024;
        lim.abort = &abort_;
        upstream::response res;
        try {
            res = upstream::fetch(upstream::endpoint::parse(*cfg_.engine_url), req, lim);
        } catch (const upstream::error& e) {
            o.error = std::string("the engine did not answer: ") + e.what();
            return;
        } catch (const std::invalid_argument& e) {
            o.error = std::string("--engine-url: ") + e.what();
            return;
        }
        o.output = res.body;
        if (res.status < 200 || res.status > 299) {
            o.error = "the engine answered " + std::to_string(res.status) + ": " + clip(text::trim(res.body));
            return;
        }
        o.status = "ok";
        json answer = json::parse(res.body, nullptr, false);
        if (!completion || !answer.is_object() || !answer.contains("completion") ||
            !answer["completion"].is_object())
            return;
        const json& c = answer["completion"];
        std::string status = c.value("status", "ok");
        if (status != "ok") {
            o.status = "error";
            std::string why;
            for (const char* key : {"error", "message", "reason"})
                if (c.contains(key) && c[key].is_string()) {
                    why = c[key].get<std::string>();
                    break;
                }
            if (why.empty() && c.contains("replyDisposition") && c["replyDisposition"].is_string())
                why = "the reply was " + c["replyDisposition"].get<std::string>();
            o.error = "the turn ended with " + status + (why.empty() ? "" : ": " + why);
        }
    };
    co_await pool_.run(post);
    co_return o;
}

boost::asio::awaitable<outcome> engine_delivery::run_command(const job& j, std::chrono::seconds timeout) {
    const json& p = j.payload();
    outcome o;
    o.status = "error";
    engine::exec_request req;
    req.command = p["command"].get<std::string>();
    req.cwd = cfg_.workspace;
    if (p.contains("cwd")) {
        std::string c = p["cwd"].get<std::string>();
        if (!c.empty())
            req.cwd = c.front() == '/' ? c : cfg_.root + "/" + c;
        struct stat st {};
        if (::stat(req.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            o.error = "cwd " + c + " is not a directory";
            co_return o;
        }
    }
    req.env = cfg_.env;
    req.timeout = timeout;
    req.max_output = cfg_.max_output;
    req.stopper = stopper_;
    if (execs_running_.fetch_add(1) >= max_commands) {
        execs_running_.fetch_sub(1);
        o.error = "too many commands running (at most 16 at once)";
        co_return o;
    }
    scope_exit held([this] { execs_running_.fetch_sub(1); });
    engine::exec_result r;
    try {
        r = co_await engine::run_exec(reaper_, std::move(req));
    } catch (const std::system_error& e) {
        o.error = std::string("cannot start the command: ") + e.what();
        co_return o;
    }
    std::string out = std::move(r.stdout_text);
    if (!r.stderr_text.empty())
        out += (out.empty() || out.back() == '\n' ? "" : "\n") + std::string("[stderr]\n") + r.stderr_text;
    o.output = std::move(out);
    if (r.timed_out)
        o.error = "timed out after " + std::to_string(timeout.count()) + " s";
    else if (r.exit_code != 0)
        o.error = "exit code " + std::to_string(r.exit_code);
    else
        o.status = "ok";
    co_return o;
}

} // namespace ag::tasks
