// POST …/files/upload (docs/api.md §9): base64 in, a new file in WORKSPACE/uploads, never overwriting,
// atomic.
#include "handlers/file_rules.hpp"
#include "handlers/routes.hpp"
#include "handlers/upload_body.hpp"

#include "config/daemon_config.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "runtime/blocking_pool.hpp"
#include "util/atomic_file.hpp"
#include "util/base64.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

namespace ag {
namespace {

boost::asio::awaitable<response> post_upload(const upload_routes& area, request& req) {
    const std::uint64_t max = area.cfg.max_file_bytes;
    struct outcome {
        std::string name;
        std::size_t size = 0;
    };
    // Decoding, fsync and rename all block: the whole job runs on the pool.
    auto store = [&] {
        auto fields = parse_upload_body(req.body);
        if (!fields.filename || !file_rules::valid_upload_name(*fields.filename))
            throw api_error(error_kind::bad_request, "Invalid filename");
        auto raw_content = fields.content();
        if (!raw_content)
            throw api_error(error_kind::bad_request, "Invalid base64");
        auto content = file_rules::strip_data_url(*raw_content);
        if (!content)
            throw api_error(error_kind::bad_request, "Invalid base64");
        // Reject before allocating when even the smallest reading of the input is too large.
        if ((content->size() / 4) * 3 > max + 3 &&
            content->find_first_of(" \t\r\n") == std::string_view::npos)
            throw api_error(error_kind::too_large, "File too large");
        std::string bytes;
        if (!base64::decode(*content, bytes))
            throw api_error(error_kind::bad_request, "Invalid base64");
        if (bytes.size() > max)
            throw api_error(error_kind::too_large, "File too large");
        std::string dir = area.cfg.workspace + "/uploads";
        std::string name = *fields.filename;
        try {
            fs_util::make_directories(dir);
            name = fs_util::write_new_file(dir, bytes, 0644,
                                           [&](int i) { return file_rules::numbered_name(name, i); });
        } catch (const std::system_error& e) {
            log::error("upload into {}: {}", dir, e.what());
            if (e.code().value() == ENOSPC || e.code().value() == EDQUOT)
                throw api_error(error_kind::internal, "No space left for the upload");
            if (e.code().value() == ENAMETOOLONG)
                throw api_error(error_kind::bad_request, "Invalid filename");
            // uploads/ replaced by a symlink (or a file): never followed, never written through.
            if (e.code().value() == ELOOP || e.code().value() == ENOTDIR)
                throw api_error(error_kind::conflict, "Upload directory is not a directory");
            throw api_error(error_kind::internal, "Upload failed");
        }
        return outcome{name, bytes.size()};
    };
    auto done = co_await area.pool.call(store);
    co_return json_response({{"path", area.cfg.workspace + "/uploads/" + done.name},
                             {"filename", done.name},
                             {"size", done.size}});
}

} // namespace

void upload_routes::add_to(router& r) const {
    const upload_routes& area = *this;
    route_options opts;
    // Base64 is 4/3 of the bytes; leave room for line breaks, a data: prefix and the JSON around it.
    opts.body_limit = static_cast<std::size_t>(area.cfg.max_file_bytes / 2 * 3 + 64 * 1024);
    opts.too_large_message = "File too large";
    r.add(
        method::post, "/v0/agents/{agentId}/files/upload",
        [area](request& req) { return post_upload(area, req); }, opts);
}

} // namespace ag
