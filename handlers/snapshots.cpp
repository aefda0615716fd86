// docs/api.md §12: snapshots — list, status, take one now, reset to one, export one as a CAR.
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "gateway/errors.hpp"
#include "gateway/producer_stream.hpp"
#include "gateway/router.hpp"
#include "metrics/work.hpp"
#include "runtime/async_mutex.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "snapshots/service.hpp"

#include <nlohmann/json.hpp>

namespace ag {

namespace {

using json = nlohmann::json;

json or_null(const std::optional<std::string>& v) {
    return v ? json(*v) : json(nullptr);
}
json or_null(const std::string& v) {
    return v.empty() ? json(nullptr) : json(v);
}

asio::awaitable<response> list(const snapshot_routes& area, request&) {
    auto latest = [&] { return area.snapshots.latest(10); };
    auto records = co_await area.pool.call(latest);
    json out = json::array();
    for (const auto& r : records)
        out.push_back({{"agentId", area.cfg.agent_id},
                       {"snapshotCid", r.cid},
                       {"commitSha", or_null(r.commit)},
                       {"changeSummary", or_null(r.change_summary)},
                       {"contentDiff", or_null(r.content_diff)},
                       {"createdAt", r.created_at}});
    co_return json_response({{"agentId", area.cfg.agent_id}, {"snapshots", out}});
}

asio::awaitable<response> status(const snapshot_routes& area, request&) {
    auto last = area.snapshots.last_sync();
    auto latest = area.snapshots.latest(1);
    std::string message =
        latest.empty() ? "No snapshot yet"
                       : "Latest snapshot " + latest.front().cid + " taken " + latest.front().created_at;
    co_return json_response({{"agentId", area.cfg.agent_id},
                             {"configured", true},
                             {"missing", json::array()},
                             {"lastSync", or_null(last)},
                             {"message", message},
                             {"pinning",
                              {{"configured", area.snapshots.pinning_configured()},
                               {"url", or_null(area.snapshots.pinning_url())},
                               {"pending", area.snapshots.pins_pending()},
                               {"lastError", or_null(area.snapshots.last_pin_error())}}}});
}

asio::awaitable<response> sync_now(const snapshot_routes& area, request&) {
    snapshots::service::sync_result result;
    {
        auto turn = co_await area.workspace.enter();
        metrics::timed took(area.counted.snapshot_create_seconds);
        auto sync = [&] { return area.snapshots.sync(turn); };
        result = co_await area.pool.call(sync);
    }
    // With --ipfs-api the snapshot is pinned before answering; an unreachable node is a 503, the snapshot
    // stays (listed, pending) and the pinning thread keeps trying.
    auto pin = [&] { return area.snapshots.pin_pending(); };
    auto err = co_await area.pool.call(pin);
    if (err)
        throw api_error(error_kind::unavailable,
                        "IPFS node unreachable; the snapshot is kept and will be pinned later: " + *err);
    json out{{"success", true},
             {"message", result.created ? "Snapshot created" : "No changes"},
             {"lastSync", or_null(area.snapshots.last_sync())},
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

asio::awaitable<response> reset(const snapshot_routes& area, request& req) {
    json body = req.json_body();
    auto target = parse_cid(body.contains("snapshotCid") ? body["snapshotCid"] : json());
    std::optional<snapshots::service::reset_result> result;
    try {
        auto turn = co_await area.workspace.enter();
        metrics::timed took(area.counted.snapshot_restore_seconds);
        auto reset = [&] { return area.snapshots.reset(turn, target); };
        result = co_await area.pool.call(reset);
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

asio::awaitable<response> car(const snapshot_routes& area, request& req) {
    auto root = parse_cid(json(std::string(req.param("cid"))));
    if (!area.snapshots.find(root.to_string()))
        throw api_error(error_kind::not_found, "Snapshot not found");
    response res;
    res.content_type = "application/vnd.ipld.car";
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + root.to_string() + ".car\"");
    snapshots::service* s = &area.snapshots;
    res.stream = stream_from_pool(area.pool, [s, root](producer_sink& out) {
        s->write_car(root, [&out](std::string_view bytes) { return out.write(bytes); });
    });
    co_return res;
}

} // namespace

void snapshot_routes::add_to(router& r) const {
    const snapshot_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}/snapshots", [area](request& req) { return list(area, req); });
    r.add(method::get, "/v0/agents/{agentId}/snapshots/sync",
          [area](request& req) { return status(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/snapshots/sync",
          [area](request& req) { return sync_now(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/snapshots/reset",
          [area](request& req) { return reset(area, req); });
    r.add(method::get, "/v0/agents/{agentId}/snapshots/{cid}/car",
          [area](request& req) { return car(area, req); });
}

} // namespace ag
