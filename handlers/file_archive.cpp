// GET …/files/archive (docs/api.md §19): a directory tree as tar, tar.gz or zip, streamed as it is read.
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "files/archive.hpp"
#include "files/paths.hpp"
#include "gateway/errors.hpp"
#include "gateway/producer_stream.hpp"
#include "gateway/router.hpp"
#include "handlers/file_query.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace ag {
namespace {

// The name in Content-Disposition: quotes, backslashes and control characters become '_'.
std::string header_safe(std::string s) {
    for (auto& c : s)
        if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '_';
    return s;
}

boost::asio::awaitable<response> get_archive(const file_archive_routes& area, request& req) {
    std::string path = file_query::path(req, area.cfg.root);
    auto format_text = text::find_param(req.query, "format");
    auto format = files::parse_archive_format(format_text ? *format_text : "tar.gz");
    if (!format)
        throw api_error(error_kind::bad_request, "format must be tar.gz, tar or zip");
    std::vector<std::string> excludes;
    for (const auto& [key, value] : req.query)
        if (key == "exclude" && !value.empty())
            excludes.push_back(value);

    // Metadata on the I/O thread, as for reads (§9); the walk and the compression run on the pool.
    auto dir = std::make_shared<files::unique_fd>(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir->get() < 0)
        files::throw_directory_error(errno);
    std::string top = path == "/" ? std::string("root") : files::split_parent(path).second;
    response res;
    res.content_type = std::string(files::archive_content_type(*format));
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + header_safe(top) + "." +
                                                        std::string(files::archive_extension(*format)) +
                                                        "\"");
    res.headers.emplace_back("Cache-Control", "no-store");
    res.stream = stream_from_pool(area.pool, [dir, top, f = *format, excludes](producer_sink& out) {
        files::write_archive(dir->release(), top, f, excludes,
                             [&out](std::string_view bytes) { return out.write(bytes); });
    });
    co_return res;
}

} // namespace

void file_archive_routes::add_to(router& r) const {
    const file_archive_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}/files/archive",
          [area](request& req) { return get_archive(area, req); });
}

} // namespace ag
