// docs/api.md §12: snapshots — list, status, take one now, reset to one, export one as a CAR.
#include "handlers/routes.hpp"

#include "gateway/async_mutex.hpp"
#include "gateway/blocking_pool.hpp"
#include "gateway/config.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "gateway/services.hpp"
#include "gateway/thread_stream.hpp"
#include "snapshots/service.hpp"

#include <nlohmann/json.hpp>

namespace ag {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

json or_null(const std::optional<std::string>& v) {
    return v ? json(*v) : json(nullptr);
}
json or_null(const std::string& v) {
    return v.empty() ? json(nullptr) : json(v);
}

asio::awaitable<response> list(services& svc, request&) {
    auto records = co_await svc.pool.call([&] { return svc.snapshots->latest(10); });
    json out = json::array();
    for (const auto& r : records)
        out.push_back({{"agentId", svc.cfg.agent_id},
                       {"snapshotCid", r.cid},
                       {"commitSha", or_null(r.commit)},
                       {"changeSummary", or_null(r.change_summary)},
                       {"contentDiff", or_null(r.content_diff)},
                       {"createdAt", r.created_at}});
    co_return json_response({{"agentId", svc.cfg.agent_id}, {"snapshots", out}});
}

asio::awaitable<response> status(services& svc, request&) {
    auto last = svc.snapshots->last_sync();
    auto latest = svc.snapshots->latest(1);
    std::string message =
        latest.empty() ? "No snapshot yet"
                       : "Latest snapshot " + latest.front().cid + " taken " + latest.front().created_at;
    co_return json_response({{"agentId", svc.cfg.agent_id},
                             {"configured", true},
                             {"missing", json::array()},
                             {"lastSync", or_null(last)},
                             {"message", message},
                             {"pinning",
                              {{"configured", svc.snapshots->pinning_configured()},
                               {"url", or_null(svc.snapshots->pinning_url())},
                               {"pending", svc.snapshots->pins_pending()},
                               {"lastError", or_null(svc.snapshots->last_pin_error())}}}});
}

asio::awaitable<response> sync_now(services& svc, request&) {
    snapshots::service::sync_result result;
    {
        auto gate = co_await svc.workspace_gate.lock();
        result = co_await svc.pool.call([&] { return svc.snapshots->sync(); });
    }
    // With --ipfs-api the snapshot is pinned before answering; an unreachable node is a 503, the snapshot
    // stays (listed, pending) and the pinning thread keeps trying.
    if (auto err = co_await svc.pool.call([&] { return svc.snapshots->pin_pending(); }))
        throw api_error(error_kind::unavailable,
                        "IPFS node unreachable; the snapshot is kept and will be pinned later: " + *err);
    json out{{"success", true},
             {"message", result.created ? "Snapshot created" : "No changes"},
             {"lastSync", or_null(svc.snapshots->last_sync())},
             {"snapshotCid", nullptr},
             {"commitSha", nullptr},
             {"changeSummary", nullptr}};
    if (result.latest) {
        out["snapshotCid"] = result.latest->cid;
        out["commitSha"] = result.latest->commit;
        out["changeSummary"] = result.latest->change_summary;
    }
    co_return json_response(out);
}

snapshots::cid parse_cid(const json& v) {
    if (v.is_string())
        if (auto c = snapshots::cid::parse(v.get<std::string>()))
            return *c;
    throw api_error(error_kind::bad_request, "Invalid snapshot CID");
}

asio::awaitable<response> reset(services& svc, request& req) {
    json body = req.json_body();
    auto target = parse_cid(body.contains("snapshotCid") ? body["snapshotCid"] : json());
    std::optional<snapshots::service::reset_result> result;
    try {
        auto gate = co_await svc.workspace_gate.lock();
        result = co_await svc.pool.call([&] { return svc.snapshots->reset(target); });
    } catch (const snapshots::ipfs_error& e) {
        using kind = snapshots::ipfs_error::kind_t;
        if (e.kind == kind::unreachable)
            throw api_error(error_kind::unavailable, e.what());
        if (e.kind == kind::damaged)
            throw api_error(error_kind::bad_gateway, e.what()); // nothing was written
        throw api_error(error_kind::not_found, "Snapshot not found");
    }
    if (!result)
        throw api_error(error_kind::not_found, "Snapshot not found");
    co_return json_response({{"success", true},
                             {"message", "Workspace reset to snapshot " + result->target.cid},
                             {"snapshotCid", result->target.cid},
                             {"commitSha", result->commit}});
}

asio::awaitable<response> car(services& svc, request& req) {
    auto root = parse_cid(json(std::string(req.param("cid"))));
    if (!svc.snapshots->find(root.to_string()))
        throw api_error(error_kind::not_found, "Snapshot not found");
    response res;
    res.content_type = "application/vnd.ipld.car";
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + root.to_string() + ".car\"");
    snapshots::service* s = svc.snapshots;
    res.stream = stream_from_thread([s, root](thread_sink& out) {
        s->write_car(root, [&out](std::string_view bytes) { return out.write(bytes); });
    });
    co_return res;
}

} // namespace

void register_snapshot_routes(router& r, services& svc) {
    r.add(method::get, "/v0/agents/{agentId}/snapshots", [&svc](request& req) { return list(svc, req); });
    r.add(method::get, "/v0/agents/{agentId}/snapshots/sync",
          [&svc](request& req) { return status(svc, req); });
    r.add(method::post, "/v0/agents/{agentId}/snapshots/sync",
          [&svc](request& req) { return sync_now(svc, req); });
    r.add(method::post, "/v0/agents/{agentId}/snapshots/reset",
          [&svc](request& req) { return reset(svc, req); });
    r.add(method::get, "/v0/agents/{agentId}/snapshots/{cid}/car",
          [&svc](request& req) { return car(svc, req); });
}

} // namespace ag
