// docs/api.md §13: Git Smart HTTP on the workspace repository (protocol v0/v1, stateless-rpc).
// Authentication, with WWW-Authenticate: Basic on 401, happens in dispatch like every other route.
#include "handlers/routes.hpp"

#include "engine/manifest.hpp"
#include "engine/scripts.hpp"
#include "gateway/errors.hpp"
#include "gateway/producer_stream.hpp"
#include "gateway/router.hpp"
#include "git/advertise.hpp"
#include "git/clone_cache.hpp"
#include "git/receive_pack.hpp"
#include "git/upload_pack.hpp"
#include "git/workspace.hpp"
#include "metrics/work.hpp"
#include "runtime/async_mutex.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "util/gunzip.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <memory>
#include <optional>
#include <string>

namespace ag {

namespace {

// A fetch request is wants and haves: a few hundred KiB at most, even for long negotiations.
constexpr std::size_t upload_request_limit = 16u << 20;
// A push carries the pack: bounded by what a workspace may reasonably receive at once.
constexpr std::size_t push_limit = 2048ull << 20;

void no_cache(response& res) {
    res.headers.emplace_back("Expires", "Fri, 01 Jan 1980 00:00:00 GMT");
    res.headers.emplace_back("Pragma", "no-cache");
    res.headers.emplace_back("Cache-Control", "no-cache, max-age=0, must-revalidate");
}

void require_content_type(const request& req, std::string_view expected) {
    if (!text::iequals(req.header("Content-Type"), expected))
        throw api_error(error_kind::unsupported_media, "Content-Type must be " + std::string(expected));
}

// Reads the request body piece by piece, inflating it when the client compressed it (git gzips fetch
// requests over 1 KiB), and hands each piece to `sink`.
template <class Sink> asio::awaitable<void> read_body(request& req, std::size_t inflated_limit, Sink sink) {
    std::optional<gunzip> inflater;
    std::string_view encoding = req.header("Content-Encoding");
    if (text::iequals(encoding, "gzip") || text::iequals(encoding, "x-gzip"))
        inflater.emplace(inflated_limit);
    else if (!encoding.empty() && !text::iequals(encoding, "identity"))
        throw api_error(error_kind::unsupported_media, "Content-Encoding must be gzip or absent");
    std::string plain;
    for (;;) {
        auto piece = co_await req.body_stream->read_some();
        if (!piece)
            break;
        if (!inflater) {
            co_await sink(std::move(*piece));
            continue;
        }
        plain.clear();
        try {
            inflater->feed(*piece, plain);
        } catch (const std::length_error&) {
            throw api_error(error_kind::too_large, "Request body too large");
        } catch (const std::exception& e) {
            throw api_error(error_kind::bad_request, e.what());
        }
        if (!plain.empty())
            co_await sink(std::move(plain));
    }
    if (inflater && !inflater->finished())
        throw api_error(error_kind::bad_request, "Request body: the gzip stream is incomplete");
}

asio::awaitable<response> info_refs(const git_routes& area, request& req) {
    const std::string_view name = text::find_param(req.query, "service").value_or("");
    git::service which;
    if (name == "git-upload-pack")
        which = git::service::upload_pack;
    else if (name == "git-receive-pack")
        which = git::service::receive_pack;
    else
        throw api_error(
            error_kind::forbidden,
            "Unsupported git service: only smart HTTP (service=git-upload-pack or git-receive-pack)");
    response res;
    auto advertise = [&] {
        auto repo = area.git.open();
        return git::advertisement(repo.get(), which);
    };
    res.body = co_await area.pool.call(advertise);
    res.content_type = std::string("application/x-") + std::string(name) + "-advertisement";
    no_cache(res);
    co_return res;
}

struct sink_adapter final : git::output {
    explicit sink_adapter(producer_sink& s)
        : out(s) {}
    producer_sink& out;
    bool write(std::string_view data) override { return out.write(data); }
};

asio::awaitable<response> upload_pack(const git_routes& area, request& req) {
    require_content_type(req, "application/x-git-upload-pack-request");
    auto body = std::make_shared<std::string>();
    auto keep = [&](std::string piece) -> asio::awaitable<void> {
        if (body->size() + piece.size() > upload_request_limit)
            throw api_error(error_kind::too_large, "Request body too large");
        body->append(piece);
        co_return;
    };
    co_await read_body(req, upload_request_limit, keep);
    response res;
    res.content_type = "application/x-git-upload-pack-result";
    no_cache(res);
    git::workspace* ws = &area.git;
    git::clone_cache* cache = area.git_cache;
    metrics::histogram* took = &area.counted.git_upload_pack_seconds;
    res.stream = stream_from_pool(area.pool, [ws, cache, body, took](producer_sink& out) {
        metrics::timed timing(*took);
        sink_adapter adapter(out);
        git::upload_pack(*ws, cache, *body, adapter);
    });
    co_return res;
}

constexpr std::size_t push_feed_batch = 4 * 1024 * 1024;

asio::awaitable<response> receive_pack(const git_routes& area, request& req) {
    require_content_type(req, "application/x-git-receive-pack-request");
    metrics::timed took(area.counted.git_receive_pack_seconds);
    auto session = std::make_shared<git::receive_session>(area.git);
    // The pack goes to libgit2 in batches: a 100 MiB push makes 25 trips to the pool, not one per 64 KiB
    // piece the socket gives (1,600).
    std::string batch;
    std::size_t trips = 0;
    auto feed = [&]() -> asio::awaitable<void> {
        auto work = [&] { session->feed(batch); };
        co_await area.pool.run(work);
        batch.clear();
        ++trips;
    };
    try {
        auto collect = [&](std::string piece) -> asio::awaitable<void> {
            batch.append(piece);
            if (batch.size() >= push_feed_batch)
                co_await feed();
        };
        co_await read_body(req, push_limit, collect);
        if (!batch.empty())
            co_await feed();
        log::debug("git: push body fed to the indexer in {} pool trip(s)", trips);
    } catch (const git::error& e) {
        throw api_error(error_kind::bad_request, e.what());
    }
    git::receive_session::outcome result;
    try {
        auto turn = co_await area.git.enter();
        auto finish = [&] {
            return session->finish(
                turn, [](std::string_view content) { return engine::manifest_problem(content); });
        };
        result = co_await area.pool.call(finish);
    } catch (const git::error& e) {
        throw api_error(error_kind::bad_request, e.what());
    }
    if (result.checked_out_moved) {
        log::info("git: push updated the working tree; rebuilding");
        area.manifest.reload();
        area.scripts.rebuild();
    }
    if (result.refs_removed && area.git_cache)
        area.git_cache->rebuild_in_background(); // a deleted branch's objects leave the clone pack
    response res;
    res.content_type = "application/x-git-receive-pack-result";
    res.body = std::move(result.body);
    no_cache(res);
    co_return res;
}

} // namespace

void git_routes::add_to(router& r) const {
    const git_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}/git/info/refs",
          [area](request& req) { return info_refs(area, req); });
    route_options fetch;
    fetch.stream_body = true;
    fetch.body_limit = upload_request_limit;
    r.add(
        method::post, "/v0/agents/{agentId}/git/git-upload-pack",
        [area](request& req) { return upload_pack(area, req); }, fetch);
    route_options push;
    push.stream_body = true;
    push.body_limit = push_limit;
    push.too_large_message = "Push too large";
    r.add(
        method::post, "/v0/agents/{agentId}/git/git-receive-pack",
        [area](request& req) { return receive_pack(area, req); }, push);
}

} // namespace ag
