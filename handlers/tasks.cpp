// …/tasks (docs/api.md §14): the agent's scheduled jobs and their runs.
#include "handlers/routes.hpp"

#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "runtime/blocking_pool.hpp"
#include "tasks/scheduler.hpp"

#include <nlohmann/json.hpp>

namespace ag {
namespace {

using boost::asio::awaitable;
using nlohmann::json;

[[noreturn]] void not_found() {
    throw api_error(error_kind::not_found, "Task not found");
}

// The scheduler's rule errors become the contract's statuses.
template <class F> awaitable<std::invoke_result_t<F&>> on_pool(const task_routes& area, F fn) {
    try {
        co_return co_await area.pool.call(std::move(fn));
    } catch (const tasks::invalid_job& e) {
        throw api_error(error_kind::bad_request, std::string("Invalid parameters: ") + e.what());
    } catch (const tasks::duplicate_job& e) {
        throw api_error(error_kind::conflict, e.what());
    }
}

bool flag(const request& req, std::string_view key, bool otherwise) {
    auto v = text::find_param(req.query, key);
    if (!v)
        return otherwise;
    if (*v == "true" || *v == "1")
        return true;
    if (*v == "false" || *v == "0")
        return false;
    throw api_error(error_kind::bad_request,
                    "Invalid parameters: " + std::string(key) + " must be true or false");
}

awaitable<response> list(const task_routes& area, request& req) {
    bool all = flag(req, "includeDisabled", true);
    co_return json_response({{"jobs", area.tasks.list(all)}});
}

awaitable<response> create(const task_routes& area, request& req) {
    auto body = req.json_body();
    auto work = [&] { return area.tasks.create(body); };
    auto job = co_await on_pool(area, work);
    co_return json_response(job, 201);
}

awaitable<response> get(const task_routes& area, request& req) {
    auto job = area.tasks.get(req.param("jobId"));
    if (!job)
        not_found();
    co_return json_response(*job);
}

awaitable<response> update(const task_routes& area, request& req) {
    auto body = req.json_body();
    std::string id(req.param("jobId"));
    auto work = [&] { return area.tasks.update(id, body); };
    auto job = co_await on_pool(area, work);
    if (!job)
        not_found();
    co_return json_response(*job);
}

awaitable<response> remove(const task_routes& area, request& req) {
    std::string id(req.param("jobId"));
    auto work = [&] { return area.tasks.remove(id); };
    bool removed = co_await on_pool(area, work);
    if (!removed)
        not_found();
    co_return json_response({{"success", true}, {"id", id}});
}

awaitable<response> toggle(const task_routes& area, request& req) {
    auto body = req.json_body();
    std::string id(req.param("jobId"));
    auto current = area.tasks.get(id);
    if (!current)
        not_found();
    auto enabled = body.find("enabled");
    if (enabled != body.end() && !enabled->is_boolean())
        throw api_error(error_kind::bad_request, "Invalid parameters: enabled must be true or false");
    // Without "enabled" the job flips.
    json patch{
        {"enabled", enabled != body.end() ? enabled->get<bool>() : !(*current)["enabled"].get<bool>()}};
    auto work = [&] { return area.tasks.update(id, patch); };
    auto job = co_await on_pool(area, work);
    if (!job)
        not_found();
    co_return json_response(*job);
}

awaitable<response> run_now(const task_routes& area, request& req) {
    auto r = co_await area.tasks.run_now(std::string(req.param("jobId")));
    if (!r)
        not_found();
    co_return json_response(*r);
}

awaitable<response> runs(const task_routes& area, request& req) {
    std::size_t limit = 20;
    if (auto v = text::find_param(req.query, "limit")) {
        auto n = text::parse_u64(*v);
        if (!n || *n < 1 || *n > tasks::runs_kept)
            throw api_error(error_kind::bad_request, "Invalid parameters: limit must be from 1 to 100");
        limit = static_cast<std::size_t>(*n);
    }
    std::string id(req.param("jobId"));
    auto work = [&] { return area.tasks.runs(id, limit); };
    auto found = co_await on_pool(area, work);
    if (!found)
        not_found();
    co_return json_response({{"runs", std::move(*found)}});
}

} // namespace

void task_routes::add_to(router& r) const {
    const task_routes& area = *this;
    const std::string base = "/v0/agents/{agentId}/tasks";
    r.add(method::get, base, [area](request& req) { return list(area, req); });
    r.add(method::post, base, [area](request& req) { return create(area, req); });
    r.add(method::get, base + "/{jobId}", [area](request& req) { return get(area, req); });
    r.add(method::put, base + "/{jobId}", [area](request& req) { return update(area, req); });
    r.add(method::delete_, base + "/{jobId}", [area](request& req) { return remove(area, req); });
    r.add(method::post, base + "/{jobId}/run", [area](request& req) { return run_now(area, req); });
    r.add(method::post, base + "/{jobId}/toggle", [area](request& req) { return toggle(area, req); });
    r.add(method::get, base + "/{jobId}/runs", [area](request& req) { return runs(area, req); });
}

} // namespace ag
