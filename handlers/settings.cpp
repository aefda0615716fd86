// …/config, …/config/validate, …/channels and …/devices (docs/api.md §15): the engine's runtime config file,
// its chat channels inside it, and its devices through its CLI.
#include "handlers/routes.hpp"

#include "engine/supervisor.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "runtime/async_mutex.hpp"
#include "runtime/blocking_pool.hpp"
#include "settings/channels.hpp"
#include "settings/config_file.hpp"
#include "settings/engine_cli.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace ag {
namespace {

using boost::asio::awaitable;
using nlohmann::json;

settings::config_file& file_of(const settings_routes& area) {
    if (!area.file)
        throw api_error(error_kind::not_found, "No engine config (start the daemon with --engine-config)");
    return *area.file;
}

const settings::engine_cli& cli_of(const settings_routes& area) {
    if (!area.cli)
        throw api_error(error_kind::not_found, "No engine CLI (start the daemon with --engine-cli)");
    return *area.cli;
}

// Config text and request bodies are data from outside (docs/api.md §15): their limits are checked before any
// other work, and parsing, rendering, editing and writing run on the blocking pool, never on an I/O thread.
// (Coroutines here name a lambda before awaiting the pool with it, one co_await a statement: GCC 12
// miscompiles a co_await in a statement that also builds a capturing lambda.)

[[noreturn]] void refuse(const settings::invalid_config& e) {
    throw api_error(error_kind::bad_request, std::string("Invalid config: ") + e.what());
}

// The request's JSON body, its depth counted before nlohmann builds anything (`extra` levels above the
// config's own). Blocking.
json body_of(const request& req, std::size_t extra) {
    try {
        settings::check_depth(req.body, extra);
    } catch (const settings::invalid_config& e) {
        refuse(e);
    }
    return req.body.empty() ? json::object() : req.json_body();
}

// The file as it is; one that does not parse is a 500 naming why (an operator's edit broke it). Blocking.
settings::config_file::contents read_blocking(const settings::config_file& file) {
    try {
        return file.read();
    } catch (const settings::invalid_config& e) {
        throw api_error(error_kind::internal,
                        "The engine config on disk is not valid: " + std::string(e.what()));
    }
}

awaitable<settings::config_file::contents> read_current(const settings_routes& area) {
    auto& file = file_of(area);
    auto read = [&file] { return read_blocking(file); };
    auto current = co_await area.pool.call(read);
    co_return current;
}

// The engine's own verdict on a candidate, when there is a CLI to ask; CLI trouble is a 500.
awaitable<settings::check_result> engine_check(const settings_routes& area, std::string text,
                                               settings::format f) {
    if (!area.cli)
        co_return settings::check_result{true, {}};
    // The copy (up to 1 MiB) is written on the pool; the CLI then runs as a child no thread waits for.
    const auto& cli = *area.cli;
    auto copy = [&cli, &text, f] { return cli.write_check_copy(text, f); };
    std::string path = co_await area.pool.call(copy);
    settings::check_result verdict;
    try {
        verdict = co_await cli.check_copy(std::move(path));
    } catch (const settings::cli_error& e) {
        throw api_error(error_kind::internal, std::string("CLI error: ") + e.what());
    }
    co_return verdict;
}

// Checks `text` (the bytes to be written, already parsed) with the engine, then writes it as it is, under
// the config gate the caller holds so no other write comes between the check and the write. Refused: 400
// with the engine's issues; nothing written.
awaitable<void> check_and_write(const settings_routes& area, std::string text,
                                const std::vector<std::string>& secrets = {}) {
    auto& file = file_of(area);
    auto verdict = co_await engine_check(area, text, file.file_format());
    if (!verdict.valid)
        throw api_error(error_kind::bad_request,
                        "Invalid config: " + settings::mask_secrets(verdict.output, secrets));
    auto write = [&file, &text] { file.write_raw(text); };
    co_await area.pool.call(write);
}

awaitable<response> get_config(const settings_routes& area, request&) {
    auto current = co_await read_current(area);
    co_return json_response({{"config", current.config},
                             {"raw", current.raw},
                             {"path", area.file->path()},
                             {"format", settings::name_of(area.file->file_format())},
                             {"exists", current.exists}});
}

// The text a PUT asks for, checked: its limits first, then its syntax. Blocking.
std::string put_candidate(const request& req, settings::format f) {
    json body = body_of(req, 1); // {"config": …} wraps the config in one level
    auto config = body.find("config");
    auto raw = body.find("raw");
    if ((config == body.end()) == (raw == body.end()))
        throw api_error(error_kind::bad_request,
                        "Invalid config: send either config (an object) or raw (text)");
    std::string text;
    try {
        if (raw != body.end()) {
            if (!raw->is_string())
                throw api_error(error_kind::bad_request, "Invalid config: raw must be a string");
            text = raw->get<std::string>();
        } else {
            if (!config->is_object())
                throw api_error(error_kind::bad_request, "Invalid config: config must be an object");
            text = settings::render_within_limit(*config, f);
        }
        if (text.size() > settings::max_text)
            throw settings::config_too_large("larger than 1 MiB");
        settings::parse(text, f);
    } catch (const settings::invalid_config& e) {
        refuse(e);
    }
    return text;
}

awaitable<response> put_config(const settings_routes& area, request& req) {
    auto& file = file_of(area);
    auto prepare = [&req, &file] { return put_candidate(req, file.file_format()); };
    std::string text = co_await area.pool.call(prepare);
    auto gate = co_await area.config_gate.lock();
    co_await check_and_write(area, std::move(text));
    log::info("engine config {} written through the API", file.path());
    co_return json_response({{"success", true}});
}

// A candidate to validate: its text, or the verdict already when it is not even the format's syntax.
struct validation {
    std::string text;
    std::optional<json> verdict;
};

// Blocking.
validation validate_candidate(const request& req, const settings::config_file& file) {
    json body = body_of(req, 1);
    auto candidate = body.is_object() ? body.find("config") : body.end();
    const bool from_disk = candidate == body.end() || candidate->is_null();
    validation v;
    if (from_disk) {
        auto current = fs_util::read_file(file.path());
        if (!current) {
            v.verdict = json{{"valid", false}, {"output", "there is no config file at " + file.path()}};
            return v;
        }
        v.text = std::move(*current);
    } else if (candidate->is_string()) {
        v.text = candidate->get<std::string>();
    } else if (candidate->is_object()) {
        try {
            v.text = settings::render_within_limit(*candidate, file.file_format());
        } catch (const settings::invalid_config& e) {
            refuse(e);
        }
    } else {
        throw api_error(error_kind::bad_request, "Invalid parameters: config must be a string or an object");
    }
    if (!from_disk && v.text.size() > settings::max_text)
        throw api_error(error_kind::bad_request, "Invalid config: larger than 1 MiB");
    try {
        settings::parse(v.text, file.file_format());
    } catch (const settings::config_too_large& e) {
        if (!from_disk)
            refuse(e);
        v.verdict = json{{"valid", false}, {"output", e.what()}};
    } catch (const settings::invalid_config& e) {
        v.verdict = json{{"valid", false}, {"output", e.what()}};
    }
    return v;
}

awaitable<response> validate_config(const settings_routes& area, request& req) {
    auto& file = file_of(area);
    auto prepare = [&req, &file] { return validate_candidate(req, file); };
    validation v = co_await area.pool.call(prepare);
    if (v.verdict)
        co_return json_response(*v.verdict);
    auto verdict = co_await engine_check(area, std::move(v.text), file.file_format());
    co_return json_response({{"valid", verdict.valid}, {"output", verdict.output}});
}

// Restarts the engine after a channel change unless asked not to; says which in the message.
awaitable<std::string> restart_unless_skipped(const settings_routes& area, request& req) {
    auto skip = text::find_param(req.query, "skipRestart");
    if (skip && (*skip == "true" || *skip == "1"))
        co_return "restart skipped";
    if (!area.engine)
        co_return "no supervised engine to restart";
    co_await area.engine->restart();
    co_return "engine restarted";
}

awaitable<response> get_channels(const settings_routes& area, request&) {
    auto current = co_await read_current(area);
    co_return json_response(settings::channel_status(current.config));
}

// The file's text with a channel's edits made (docs/api.md §15: only that section's text changes), and the
// tokens written, for masking. Empty text: nothing to change.
struct channel_write {
    std::string text;
    std::vector<std::string> secrets;
    bool changed = false;
};

awaitable<response> post_channel(const settings_routes& area, request& req) {
    auto& file = file_of(area);
    std::string name(req.param("channel"));
    if (!settings::is_channel(name))
        throw api_error(error_kind::bad_request, "Unsupported channel");
    auto parse_body = [&req] { return body_of(req, 0); };
    json body = co_await area.pool.call(parse_body);
    {
        auto gate = co_await area.config_gate.lock();
        auto plan = [&file, &name, &body] {
            auto current = read_blocking(file);
            settings::channel_change change;
            try {
                change = settings::plan_channel(current.config, name, body);
            } catch (const settings::invalid_channel& e) {
                throw api_error(error_kind::bad_request, e.what());
            }
            channel_write out;
            out.secrets = std::move(change.secrets);
            out.changed = !change.edits.empty();
            if (out.changed)
                out.text = settings::apply_edits(current.raw, file.file_format(), change.edits);
            return out;
        };
        channel_write w = co_await area.pool.call(plan);
        if (w.changed)
            co_await check_and_write(area, std::move(w.text), w.secrets);
    }
    std::string restarted = co_await restart_unless_skipped(area, req);
    co_return json_response({{"success", true}, {"message", name + " configured; " + restarted}});
}

awaitable<response> delete_channel(const settings_routes& area, request& req) {
    auto& file = file_of(area);
    std::string name(req.param("channel"));
    if (!settings::is_channel(name))
        throw api_error(error_kind::bad_request, "Unsupported channel");
    {
        auto gate = co_await area.config_gate.lock();
        auto plan = [&file, &name] {
            auto current = read_blocking(file);
            auto edits = settings::plan_channel_removal(current.config, name);
            channel_write out;
            out.changed = !edits.empty();
            if (out.changed)
                out.text = settings::apply_edits(current.raw, file.file_format(), edits);
            return out;
        };
        channel_write w = co_await area.pool.call(plan);
        if (!w.changed)
            co_return json_response({{"success", true}, {"message", name + " was not configured"}});
        co_await check_and_write(area, std::move(w.text));
    }
    std::string restarted = co_await restart_unless_skipped(area, req);
    co_return json_response({{"success", true}, {"message", name + " removed; " + restarted}});
}

json failure(const std::string& id, const std::string& error) {
    return {{"requestId", id}, {"error", error}};
}

template <class T> awaitable<T> cli_call(awaitable<T> call) {
    std::optional<T> out;
    try {
        T said = co_await std::move(call);
        out.emplace(std::move(said));
    } catch (const settings::cli_error& e) {
        throw api_error(error_kind::internal, std::string("CLI error: ") + e.what());
    }
    co_return std::move(*out);
}

awaitable<response> get_devices(const settings_routes& area, request&) {
    json list = co_await cli_call(cli_of(area).list_devices());
    co_return json_response(list);
}

awaitable<response> approve_device(const settings_routes& area, request& req) {
    std::string id(req.param("requestId"));
    if (!settings::valid_request_id(id))
        throw api_error(error_kind::bad_request, "Invalid parameters: not a device request id");
    auto said = co_await cli_call(cli_of(area).approve_device(id));
    co_return json_response({{"success", true}, {"requestId", id}, {"message", said}});
}

awaitable<response> approve_all(const settings_routes& area, request&) {
    const auto& cli = cli_of(area);
    json list = co_await cli_call(cli.list_devices());
    json approved = json::array();
    json failed = json::array();
    for (const auto& device : list["pending"]) {
        std::string id = device.is_object() ? device.value("requestId", std::string{}) : std::string{};
        if (!settings::valid_request_id(id)) {
            failed.push_back(failure(id, "not a device request id"));
            continue;
        }
        try {
            co_await cli.approve_device(id);
            approved.push_back(id);
        } catch (const settings::cli_error& e) {
            failed.push_back(failure(id, e.what()));
        }
    }
    std::string message = "Approved " + std::to_string(approved.size()) + " of " +
                          std::to_string(approved.size() + failed.size()) + " pending device(s)";
    co_return json_response({{"approved", approved}, {"failed", failed}, {"message", message}});
}

} // namespace

void settings_routes::add_to(router& r) const {
    const settings_routes& area = *this;
    const std::string base = "/v0/agents/{agentId}";
    route_options big;
    big.body_limit = 1024 * 1024; // a whole config, pasted
    big.too_large_message = "Invalid config: larger than 1 MiB";
    big.too_large_is_bad_input = true;
    r.add(method::get, base + "/config", [area](request& req) { return get_config(area, req); });
    r.add(
        method::put, base + "/config", [area](request& req) { return put_config(area, req); }, big);
    r.add(
        method::post, base + "/config/validate", [area](request& req) { return validate_config(area, req); },
        big);
    r.add(method::get, base + "/channels", [area](request& req) { return get_channels(area, req); });
    r.add(method::post, base + "/channels/{channel}",
          [area](request& req) { return post_channel(area, req); });
    r.add(method::delete_, base + "/channels/{channel}",
          [area](request& req) { return delete_channel(area, req); });
    r.add(method::get, base + "/devices", [area](request& req) { return get_devices(area, req); });
    r.add(method::post, base + "/devices/approve-all",
          [area](request& req) { return approve_all(area, req); });
    r.add(method::post, base + "/devices/{requestId}/approve",
          [area](request& req) { return approve_device(area, req); });
}

} // namespace ag
