// PUT and DELETE …/files, POST …/files/move (docs/api.md §19): whole-file writes streamed to disk, removals,
// renames; the daemon's own files guarded.
#include "handlers/file_query.hpp"
#include "handlers/file_rules.hpp"
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "files/paths.hpp"
#include "files/writes.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "runtime/blocking_pool.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <exception>

namespace ag {
namespace {

// Pieces are gathered to this size before one trip to the pool writes them.
constexpr std::size_t write_batch = 1024 * 1024;

std::string etag_of(const struct stat& st) {
    return file_rules::etag_for(
        static_cast<std::uint64_t>(st.st_size),
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, st.st_ino);
}

std::string target_path(const file_write_routes& area, const request& req) {
    return file_query::path(req, area.root);
}

boost::asio::awaitable<response> put_file(const file_write_routes& area, request& req) {
    std::string path = target_path(area, req);
    if (path == "/")
        throw api_error(error_kind::bad_request, "Invalid path");
    area.guard->check_write(path);
    const bool mkdirs = file_query::flag(req, "mkdirs");
    std::string if_match(text::trim(req.header("If-Match")));
    std::string if_none_match(text::trim(req.header("If-None-Match")));
    const bool create_only = if_none_match == "*";
    files::precondition holds = [if_match, if_none_match](const struct stat* st) {
        if (!if_match.empty() && !(st && file_rules::etag_matches(if_match, etag_of(*st))))
            return false;
        if (!if_none_match.empty() && st && file_rules::etag_matches(if_none_match, etag_of(*st)))
            return false;
        return true;
    };
    const std::string root = area.root;
    const std::string state = area.cfg.state_dir;
    auto open_target = [&] {
        return std::make_shared<files::put_target>(path, root, state, mkdirs, create_only, holds);
    };
    auto target = co_await area.pool.call(open_target);

    // The body goes to disk a batch at a time; a refused or cut body drops the unnamed file (on the pool:
    // freeing a large file's blocks blocks).
    std::exception_ptr failed;
    files::put_target::result done;
    try {
        std::string batch;
        batch.reserve(write_batch);
        for (;;) {
            auto piece = co_await req.body_stream->read_some();
            if (piece)
                batch.append(*piece);
            if (!batch.empty() && (!piece || batch.size() >= write_batch)) {
                auto write = [&] { target->write(batch); };
                co_await area.pool.run(write);
                batch.clear();
            }
            if (!piece)
                break;
        }
        auto commit = [&] { return target->commit(); };
        done = co_await area.pool.call(commit);
    } catch (...) {
        failed = std::current_exception();
    }
    auto drop = [&target] { target.reset(); };
    co_await area.pool.run(drop);
    if (failed)
        std::rethrow_exception(failed);

    std::string etag = etag_of(done.st);
    response res =
        json_response({{"path", path}, {"size", static_cast<std::uint64_t>(done.st.st_size)}, {"etag", etag}},
                      done.created ? 201 : 200);
    res.headers.emplace_back("ETag", etag);
    co_return res;
}

boost::asio::awaitable<response> delete_file(const file_write_routes& area, request& req) {
    std::string path = target_path(area, req);
    area.guard->check_remove(path);
    const bool recursive = file_query::flag(req, "recursive");
    const std::string root = area.root;
    auto remove = [&] {
        auto [parent, name] = files::split_parent(path);
        auto dir = files::open_dir_nofollow(parent, root, false);
        auto n = files::remove_entry(dir.get(), name, recursive);
        ::fsync(dir.get());
        return n;
    };
    auto removed = co_await area.pool.call(remove);
    co_return json_response({{"path", path}, {"removed", removed}});
}

boost::asio::awaitable<response> move_file(const file_write_routes& area, request& req) {
    auto body = req.json_body();
    auto text_field = [&](const char* key) {
        auto it = body.find(key);
        if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
            throw api_error(error_kind::bad_request, std::string(key) + " must be a non-empty string");
        return files::normalise(it->get<std::string>(), area.root);
    };
    std::string from = text_field("from");
    std::string to = text_field("to");
    bool overwrite = false;
    if (auto it = body.find("overwrite"); it != body.end()) {
        if (!it->is_boolean())
            throw api_error(error_kind::bad_request, "overwrite must be a boolean");
        overwrite = it->get<bool>();
    }
    area.guard->check_remove(from);
    area.guard->check_remove(to); // overwriting removes what is there
    const std::string root = area.root;
    auto move = [&] {
        auto [from_parent, from_name] = files::split_parent(from);
        auto [to_parent, to_name] = files::split_parent(to);
        auto from_dir = files::open_dir_nofollow(from_parent, root, false);
        auto to_dir = files::open_dir_nofollow(to_parent, root, false);
        files::move_entry(from_dir.get(), from_name, to_dir.get(), to_name, overwrite);
        ::fsync(to_dir.get());
        if (from_parent != to_parent)
            ::fsync(from_dir.get());
    };
    co_await area.pool.call(move);
    co_return json_response({{"from", from}, {"to", to}});
}

} // namespace

file_write_routes::file_write_routes(const config& c, blocking_pool& p)
    : cfg(c)
    , pool(p)
    , root(files::normalise(c.root, "/")) {
    std::vector<std::string> own;
    for (const auto* f : {&c.token_file, &c.config_file, &c.tls_cert, &c.tls_key, &c.platform_key})
        if (*f)
            own.push_back(**f);
    guard = std::make_shared<files::guard>(root, c.workspace, c.state_dir, own);
}

void file_write_routes::add_to(router& r) const {
    const file_write_routes& area = *this;
    route_options put;
    put.stream_body = true;
    put.body_limit = static_cast<std::size_t>(area.cfg.max_put_bytes);
    put.too_large_message = "File too large";
    r.add(
        method::put, "/v0/agents/{agentId}/files", [area](request& req) { return put_file(area, req); }, put);
    r.add(method::delete_, "/v0/agents/{agentId}/files",
          [area](request& req) { return delete_file(area, req); });
    r.add(method::post, "/v0/agents/{agentId}/files/move",
          [area](request& req) { return move_file(area, req); });
}

} // namespace ag
