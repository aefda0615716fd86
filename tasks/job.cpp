#include "tasks/job.hpp"

#include "tasks/zones.hpp"

#include <sys/random.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace ag::tasks {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& what) {
    throw invalid_job(what);
}

const json* field(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::optional<std::string> optional_string(const json& obj, const char* key, const std::string& where) {
    const json* v = field(obj, key);
    if (!v)
        return std::nullopt;
    if (!v->is_string())
        bad(where + key + " must be a string");
    return v->get<std::string>();
}

std::string required_text(const json& obj, const char* key, const char* alias, const std::string& where) {
    const json* v = field(obj, key);
    if (!v && alias)
        v = field(obj, alias);
    if (!v || !v->is_string() || v->get_ref<const std::string&>().empty())
        bad(where + key + " is required (a non-empty string)");
    return v->get<std::string>();
}

std::optional<std::int64_t> optional_integer(const json& obj, const char* key, const std::string& where,
                                             std::int64_t lo, std::int64_t hi) {
    const json* v = field(obj, key);
    if (!v)
        return std::nullopt;
    double d = v->is_number() ? v->get<double>() : 0.5;
    if (d != std::floor(d))
        bad(where + key + " must be an integer");
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
        bad(where + key + " must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    return static_cast<std::int64_t>(d);
}

std::string one_of(const json& obj, const char* key, std::initializer_list<const char*> allowed,
                   const std::string& where) {
    auto v = optional_string(obj, key, where);
    if (!v)
        return *allowed.begin();
    std::string names;
    for (const char* a : allowed) {
        if (*v == a)
            return *v;
        names += names.empty() ? a : std::string(", ") + a;
    }
    bad(where + key + " must be one of " + names);
}

struct normalised {
    json spec;
    schedule when;
};

json normalise_schedule(const json& s, zones& tz, sys_ms now, bool is_new, schedule& out) {
    if (s.is_string()) {
        json as_object{{"kind", "cron"}, {"expr", s}};
        return normalise_schedule(as_object, tz, now, is_new, out);
    }
    if (!s.is_object())
        bad("schedule must be a cron expression or an object of kind at, every or cron");
    std::string kind;
    if (auto k = optional_string(s, "kind", "schedule."))
        kind = *k;
    else if (field(s, "expr"))
        kind = "cron";
    else if (field(s, "everyMs"))
        kind = "every";
    else if (field(s, "at"))
        kind = "at";
    if (kind == "at") {
        out.kind = schedule_kind::at;
        const json* at = field(s, "at");
        std::optional<sys_ms> when;
        if (at && at->is_string())
            when = parse_iso8601(at->get_ref<const std::string&>());
        else if (at && at->is_number_integer())
            when = sys_ms{std::chrono::milliseconds(at->get<std::int64_t>())};
        if (!when)
            bad("schedule.at must be an ISO-8601 date-time with an offset, e.g. 2026-12-24T18:00:00Z");
        // docs/api.md §14: outside these years a time is a mistake (2^63-1 ms showed as 1969).
        using namespace std::chrono;
        if (*when < sys_days{year{2000} / January / 1} || *when >= sys_days{year{10000} / January / 1})
            bad("schedule.at must be within the years 2000 to 9999");
        if (is_new && *when <= now)
            bad("schedule.at is in the past");
        out.at = *when;
        return {{"kind", "at"}, {"at", *at}};
    }
    if (kind == "every") {
        out.kind = schedule_kind::every;
        auto every = optional_integer(s, "everyMs", "schedule.", 1, std::int64_t(366) * 86'400'000);
        if (!every)
            bad("schedule.everyMs is required");
        if (*every < min_interval_ms)
            bad("schedule.everyMs must be at least 60000: the shortest interval is one minute");
        auto anchor = optional_integer(s, "anchorMs", "schedule.", 0, std::int64_t(1) << 50);
        out.every_ms = *every;
        out.anchor = anchor ? sys_ms{std::chrono::milliseconds(*anchor)} : now;
        return {{"kind", "every"}, {"everyMs", *every}, {"anchorMs", out.anchor.time_since_epoch().count()}};
    }
    if (kind == "cron") {
        out.kind = schedule_kind::cron;
        auto expr = optional_string(s, "expr", "schedule.");
        if (!expr)
            bad("schedule.expr is required");
        try {
            out.cron = parse_cron(*expr);
        } catch (const std::invalid_argument& e) {
            bad("schedule.expr: " + std::string(e.what()));
        }
        json shown{{"kind", "cron"}, {"expr", *expr}};
        if (auto zone = optional_string(s, "tz", "schedule.")) {
            try {
                out.zone = tz.find(*zone);
            } catch (const std::invalid_argument& e) {
                bad("schedule.tz: " + std::string(e.what()));
            }
            shown["tz"] = *zone;
        }
        if (!next_fire(out, now))
            bad("schedule.expr never fires (no such day in eight years)");
        return shown;
    }
    bad("schedule.kind must be at, every or cron");
}

json normalise_payload(const json& p) {
    if (!p.is_object())
        bad("payload must be an object");
    auto kind = optional_string(p, "kind", "payload.");
    if (!kind)
        bad("payload.kind is required (agentTurn, systemEvent or command)");
    auto timeout = optional_integer(p, "timeoutSeconds", "payload.", 1, 3600);
    json out{{"kind", *kind}};
    if (*kind == "agentTurn") {
        out["message"] = required_text(p, "message", "text", "payload.");
        if (auto m = optional_string(p, "model", "payload."))
            out["model"] = *m;
        if (auto t = optional_string(p, "thinking", "payload."))
            out["thinking"] = *t;
    } else if (*kind == "systemEvent") {
        out["text"] = required_text(p, "text", "message", "payload.");
    } else if (*kind == "command") {
        std::string command = required_text(p, "command", nullptr, "payload.");
        if (command.find('\0') != std::string::npos)
            bad("payload.command holds a NUL byte");
        out["command"] = command;
        if (auto cwd = optional_string(p, "cwd", "payload."))
            out["cwd"] = *cwd;
    } else {
        bad("payload.kind must be agentTurn, systemEvent or command");
    }
    if (timeout)
        out["timeoutSeconds"] = *timeout;
    return out;
}

json normalise_delivery(const json* d) {
    if (!d)
        return nullptr;
    if (!d->is_object())
        bad("delivery must be an object");
    json out{{"mode", one_of(*d, "mode", {"none", "announce", "webhook"}, "delivery.")}};
    for (const char* key : {"channel", "to"})
        if (auto v = optional_string(*d, key, "delivery."))
            out[key] = *v;
    if (const json* b = field(*d, "bestEffort")) {
        if (!b->is_boolean())
            bad("delivery.bestEffort must be true or false");
        out["bestEffort"] = *b;
    }
    return out;
}

// The product's templates write {"name","prompt","schedule":"0 9 * * *","enabled","model":{"primary"}}.
json expand_short_form(const json& in) {
    json out = in;
    if (const json* prompt = field(in, "prompt"); prompt && !field(in, "payload")) {
        json payload{{"kind", "agentTurn"}, {"message", *prompt}};
        if (const json* model = field(in, "model")) {
            if (model->is_object() && model->contains("primary"))
                payload["model"] = (*model)["primary"];
            else
                payload["model"] = *model;
        }
        out["payload"] = std::move(payload);
    }
    out.erase("prompt");
    out.erase("model");
    return out;
}

// Every rule of docs/api.md §14 over the whole definition. `is_new_schedule`: the schedule was just given
// (an `at` must then lie ahead).
normalised normalise(const json& in, zones& tz, sys_ms now, bool is_new_schedule) {
    if (!in.is_object())
        bad("the body must be a JSON object");
    normalised n;
    json& s = n.spec;
    s["id"] = in.value("id", json());
    std::string name = required_text(in, "name", nullptr, "");
    if (name.size() > 200)
        bad("name is longer than 200 characters");
    s["name"] = name;
    s["description"] = optional_string(in, "description", "").value_or("");
    if (const json* e = field(in, "enabled"); e && !e->is_boolean())
        bad("enabled must be true or false");
    s["enabled"] = in.value("enabled", true);
    const json* sched = field(in, "schedule");
    if (!sched)
        bad("schedule is required");
    s["schedule"] = normalise_schedule(*sched, tz, now, is_new_schedule, n.when);
    s["sessionTarget"] = one_of(in, "sessionTarget", {"main", "isolated"}, "");
    s["wakeMode"] = one_of(in, "wakeMode", {"now", "next-heartbeat"}, "");
    const json* payload = field(in, "payload");
    if (!payload)
        bad("payload is required");
    s["payload"] = normalise_payload(*payload);
    s["delivery"] = normalise_delivery(field(in, "delivery"));
    return n;
}

std::optional<std::int64_t> stored_int(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer())
        return std::nullopt;
    return it->get<std::int64_t>();
}

std::optional<std::string> stored_string(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        return std::nullopt;
    return it->get<std::string>();
}

// A patch's object field merged into the current one when it keeps the kind (or names none): PUT
// {"payload":{"message":"…"}} changes the message of an agentTurn and keeps its model.
json merged(const json& current, const json& patch) {
    if (!current.is_object() || !patch.is_object())
        return patch;
    auto kind = patch.find("kind");
    if (kind != patch.end() && current.value("kind", json()) != *kind)
        return patch;
    json out = current;
    for (auto& [k, v] : patch.items())
        out[k] = v;
    if (out.value("kind", "") == "agentTurn" && patch.contains("text") && !patch.contains("message"))
        out["message"] = patch["text"];
    if (out.value("kind", "") == "systemEvent" && patch.contains("message") && !patch.contains("text"))
        out["text"] = patch["message"];
    return out;
}

} // namespace

std::chrono::seconds job::run_timeout() const {
    if (auto t = payload().find("timeoutSeconds"); t != payload().end() && t->is_number_integer())
        return std::chrono::seconds(t->get<std::int64_t>());
    return default_run_timeout;
}

bool valid_job_id(std::string_view id) {
    if (id.empty() || id.size() > 64 || id == "." || id == "..")
        return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~'))
            return false;
    return true;
}

std::string new_job_id() {
    std::array<unsigned char, 16> b{};
    if (::getrandom(b.data(), b.size(), 0) != static_cast<ssize_t>(b.size()))
        throw std::runtime_error("getrandom failed");
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    char out[37];
    std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                  b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return out;
}

std::optional<sys_ms> parse_iso8601(std::string_view t) {
    // YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)
    auto num = [&](std::size_t at, std::size_t len, int& out) {
        if (at + len > t.size())
            return false;
        auto [end, ec] = std::from_chars(t.data() + at, t.data() + at + len, out);
        return ec == std::errc() && end == t.data() + at + len &&
               std::isdigit(static_cast<unsigned char>(t[at]));
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!num(0, 4, y) || t.size() < 20 || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' || !num(8, 2, d) ||
        (t[10] != 'T' && t[10] != 't') || !num(11, 2, h) || t[13] != ':' || !num(14, 2, mi) || t[16] != ':' ||
        !num(17, 2, s))
        return std::nullopt;
    std::size_t i = 19;
    std::int64_t ms = 0;
    if (t[i] == '.') {
        std::size_t digits = 0;
        for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i, ++digits)
            if (digits < 3)
                ms = ms * 10 + (t[i] - '0');
        if (digits == 0)
            return std::nullopt;
        for (; digits < 3; ++digits)
            ms *= 10;
    }
    int offset_minutes = 0;
    if (i < t.size() && (t[i] == 'Z' || t[i] == 'z') && i + 1 == t.size()) {
    } else if (i + 6 == t.size() && (t[i] == '+' || t[i] == '-') && t[i + 3] == ':') {
        int oh = 0, om = 0;
        if (!num(i + 1, 2, oh) || !num(i + 4, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset_minutes = (t[i] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return std::nullopt;
    }
    using namespace std::chrono;
    year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 60)
        return std::nullopt;
    return sys_ms{sys_days{ymd}} + hours(h) + minutes(mi) + seconds(s) + milliseconds(ms) -
           minutes(offset_minutes);
}

std::optional<sys_ms> next_fire(const schedule& s, sys_ms after) {
    using namespace std::chrono;
    switch (s.kind) {
    case schedule_kind::at:
        return s.at > after ? std::optional(s.at) : std::nullopt;
    case schedule_kind::every: {
        if (after < s.anchor)
            return s.anchor;
        auto k = (after - s.anchor).count() / s.every_ms + 1;
        return s.anchor + milliseconds(k * s.every_ms);
    }
    case schedule_kind::cron:
        if (auto t = tasks::next_fire(s.cron, s.zone.get(), floor<seconds>(after)))
            return sys_ms{*t};
        return std::nullopt;
    }
    return std::nullopt;
}

job make_job(const json& input, zones& tz, sys_ms now) {
    auto n = normalise(expand_short_form(input), tz, now, true);
    json& id = n.spec["id"];
    if (id.is_null())
        id = new_job_id();
    else if (!id.is_string() || !valid_job_id(id.get_ref<const std::string&>()))
        bad("id must be URL-safe: letters, digits, '-', '_', '.', '~', at most 64");
    n.spec["createdAtMs"] = now.time_since_epoch().count();
    n.spec["updatedAtMs"] = now.time_since_epoch().count();
    return job{std::move(n.spec), {}, std::move(n.when)};
}

job update_job(const job& current, const json& patch_in, zones& tz, sys_ms now) {
    if (!patch_in.is_object())
        bad("the body must be a JSON object");
    json patch = patch_in;
    if (patch.contains("prompt"))
        patch["payload"] = {{"message", patch["prompt"]}};
    json in = current.spec;
    for (const char* key : {"name", "description", "enabled", "sessionTarget", "wakeMode"})
        if (patch.contains(key))
            in[key] = patch[key];
    for (const char* key : {"schedule", "payload", "delivery"})
        if (patch.contains(key))
            in[key] = merged(current.spec.value(key, json()), patch[key]);
    if (patch.contains("id") && patch["id"] != current.spec["id"])
        bad("id cannot be changed");
    bool new_schedule = patch.contains("schedule");
    auto n = normalise(in, tz, now, new_schedule);
    n.spec["id"] = current.spec["id"];
    n.spec["createdAtMs"] = current.spec["createdAtMs"];
    n.spec["updatedAtMs"] = now.time_since_epoch().count();
    job out{std::move(n.spec), current.state, std::move(n.when)};
    return out;
}

job stored_job(const json& stored, zones& tz) {
    if (!stored.is_object())
        bad("not an object");
    json in = stored;
    json state = in.value("state", json::object());
    in.erase("state");
    auto id = stored_string(in, "id");
    if (!id || !valid_job_id(*id))
        bad("no valid id");
    auto created = stored_int(in, "createdAtMs").value_or(0);
    auto n = normalise(in, tz, sys_ms{std::chrono::milliseconds(created)}, false);
    n.spec["id"] = *id;
    n.spec["createdAtMs"] = created;
    n.spec["updatedAtMs"] = stored_int(in, "updatedAtMs").value_or(created);
    job j{std::move(n.spec), {}, std::move(n.when)};
    if (state.is_object()) {
        j.state.next_run_at_ms = stored_int(state, "nextRunAtMs");
        j.state.last_run_at_ms = stored_int(state, "lastRunAtMs");
        j.state.last_status = stored_string(state, "lastStatus");
        j.state.last_error = stored_string(state, "lastError");
        j.state.last_duration_ms = stored_int(state, "lastDurationMs");
        j.state.consecutive_errors = static_cast<int>(stored_int(state, "consecutiveErrors").value_or(0));
    }
    return j;
}

void reparse_schedule(job& j, zones& tz) {
    schedule fresh;
    normalise_schedule(j.spec["schedule"], tz, sys_ms{}, false, fresh);
    j.when = std::move(fresh);
}

json to_json(const job& j) {
    json out = j.spec;
    auto opt = [](const auto& v) { return v ? json(*v) : json(); };
    out["state"] = {
        {"nextRunAtMs", opt(j.state.next_run_at_ms)},      {"lastRunAtMs", opt(j.state.last_run_at_ms)},
        {"lastStatus", opt(j.state.last_status)},          {"lastError", opt(j.state.last_error)},
        {"lastDurationMs", opt(j.state.last_duration_ms)}, {"consecutiveErrors", j.state.consecutive_errors}};
    return out;
}

} // namespace ag::tasks
