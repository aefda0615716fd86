// GET/HEAD …/files?path=P (docs/api.md §9): raw bytes with validators and ranges, or a directory listing.
#include "handlers/file_rules.hpp"
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "runtime/blocking_pool.hpp"
#include "util/time_format.hpp"

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <queue>

namespace ag {
namespace {

constexpr std::size_t max_listing_entries = 10000;

const char* type_name(mode_t m) {
    if (S_ISREG(m))
        return "file";
    if (S_ISDIR(m))
        return "dir";
    if (S_ISLNK(m))
        return "symlink";
    return "other";
}

std::string mode_text(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

[[noreturn]] void throw_open_error(int err) {
    if (err == EACCES || err == EPERM)
        throw api_error(error_kind::forbidden, "Permission denied");
    if (err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG)
        throw api_error(error_kind::not_found, "File not found");
    throw api_error(error_kind::internal, "Cannot open file");
}

bool size_unknown(int fd, const struct stat& st) {
    if (st.st_size == 0)
        return true;
    struct statfs fs {};
    return ::fstatfs(fd, &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC);
}

// At most `limit` bytes of `fd` from its start (blocking).
std::string read_up_to(int fd, std::uint64_t limit) {
    std::string out;
    char buf[65536];
    while (out.size() < limit) {
        ssize_t n = ::pread(fd, buf,
                            static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, limit - out.size())),
                            static_cast<off_t>(out.size()));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            // Some pseudo-files refuse pread (or reading at all: EACCES, EINVAL); what was read is what there
            // is.
            if (out.empty() && (errno == EACCES || errno == EPERM))
                throw_open_error(errno);
            break;
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

// Takes ownership of `fd` (a directory).
nlohmann::json list_directory(int fd, const std::string& path) {
    DIR* d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        throw_open_error(errno);
    }
    struct item {
        std::string name;
        struct stat st;
    };
    // The first entries by name, whatever order the file system returns them in: a max-heap of names holds
    // the smallest ones seen, so memory stays bounded however large the directory.
    std::priority_queue<std::string> smallest;
    bool truncated = false;
    while (auto* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..")
            continue;
        if (smallest.size() == max_listing_entries) {
            truncated = true;
            if (name >= smallest.top())
                continue;
            smallest.pop();
        }
        smallest.emplace(name);
    }
    std::vector<item> items;
    items.reserve(smallest.size());
    for (; !smallest.empty(); smallest.pop()) {
        item it{smallest.top(), {}};
        if (::fstatat(::dirfd(d), it.name.c_str(), &it.st, AT_SYMLINK_NOFOLLOW) == 0)
            items.push_back(std::move(it)); // else removed while we looked
    }
    ::closedir(d);
    std::reverse(items.begin(), items.end());
    nlohmann::json entries = nlohmann::json::array();
    for (auto& it : items) {
        auto mtime = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::seconds(it.st.st_mtim.tv_sec) +
                std::chrono::nanoseconds(it.st.st_mtim.tv_nsec)));
        entries.push_back({{"name", std::move(it.name)},
                           {"type", type_name(it.st.st_mode)},
                           {"size", static_cast<std::uint64_t>(it.st.st_size)},
                           {"mtime", time_format::iso8601_ms(mtime)},
                           {"mode", mode_text(it.st.st_mode)}});
    }
    nlohmann::json out = {{"path", path}, {"entries", std::move(entries)}};
    if (truncated)
        out["truncated"] = true;
    return out;
}

boost::asio::awaitable<response> get_file(const file_routes& area, request& req) {
    auto p = text::find_param(req.query, "path");
    if (!p || p->empty())
        throw api_error(error_kind::bad_request, "Missing path");
    if (p->find('\0') != std::string_view::npos)
        throw api_error(error_kind::bad_request, "Invalid path");
    std::string path = p->front() == '/' ? std::string(*p) : area.cfg.root + "/" + std::string(*p);

    // O_NONBLOCK: opening a FIFO must not wait for a writer. Metadata calls stay on the I/O thread (like
    // nginx); reading a directory, which can be large, goes to the pool.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        throw_open_error(errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        throw_open_error(err);
    }
    if (S_ISDIR(st.st_mode)) {
        auto list = [&] { return list_directory(fd, path); };
        auto listing = co_await area.pool.call(list);
        co_return json_response(listing);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw api_error(error_kind::bad_request, "Not a regular file or directory");
    }
    // procfs and sysfs report 0 or a page whatever the content: such a file is read to its end (up to the
    // limit) and sent with the length read.
    std::optional<std::string> content;
    if (size_unknown(fd, st)) {
        auto read_rest = [fd, limit = area.cfg.max_file_bytes] { return read_up_to(fd, limit + 1); };
        content = co_await area.pool.call(read_rest);
        st.st_size = static_cast<off_t>(content->size());
    }
    auto file = std::make_shared<file_range>(fd, 0, static_cast<std::uint64_t>(st.st_size));
    auto size = static_cast<std::uint64_t>(st.st_size);
    std::string etag = file_rules::etag_for(
        size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, st.st_ino);

    response res;
    res.content_type = file_rules::content_type_for(path);
    res.headers = {{"ETag", etag},
                   {"Last-Modified", time_format::http_date(st.st_mtim.tv_sec)},
                   {"Accept-Ranges", "bytes"},
                   {"Cache-Control", "no-cache"}};
    if (auto inm = req.header("If-None-Match"); !inm.empty() && file_rules::etag_matches(inm, etag)) {
        res.status = 304;
        res.content_type.clear();
        co_return res;
    }
    auto range = file_rules::parse_range(req.header("Range"), size);
    switch (range.status) {
    case file_rules::range_status::ok:
        res.status = 206;
        file->offset = range.range.first;
        file->length = range.range.length;
        res.headers.emplace_back("Content-Range",
                                 "bytes " + std::to_string(range.range.first) + "-" +
                                     std::to_string(range.range.first + range.range.length - 1) + "/" +
                                     std::to_string(size));
        break;
    case file_rules::range_status::unsatisfiable:
        throw api_error(error_kind::range_not_satisfiable, "Range not satisfiable",
                        {{"Content-Range", "bytes */" + std::to_string(size)}});
    case file_rules::range_status::multiple:
        throw api_error(error_kind::range_not_satisfiable, "Only one range per request is supported");
    case file_rules::range_status::none:
        if (size > area.cfg.max_file_bytes)
            throw api_error(error_kind::too_large, "File too large");
        break;
    }
    if (content)
        res.body =
            content->substr(static_cast<std::size_t>(file->offset), static_cast<std::size_t>(file->length));
    else
        res.file = std::move(file);
    co_return res;
}

} // namespace

void file_routes::add_to(router& r) const {
    const file_routes& area = *this;
    r.add(method::get, "/v0/agents/{agentId}/files", [area](request& req) { return get_file(area, req); });
}

} // namespace ag
