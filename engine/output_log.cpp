#include "engine/output_log.hpp"

#include "util/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

namespace ag::engine {
namespace {

constexpr std::size_t header_size = 13;
constexpr std::uint64_t max_segment = 1024 * 1024;

void put_le(char* out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
        out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_le(const char* in, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(in[i]);
    return v;
}

std::string segment_name(std::uint64_t first) {
    char name[32];
    std::snprintf(name, sizeof name, "seg-%020llu", static_cast<unsigned long long>(first));
    return name;
}

struct record_view {
    std::uint64_t offset;
    int stream;
    std::string_view data;
};

// The whole records of a segment's bytes, in order; `valid` is where the last whole one ends.
std::vector<record_view> parse_records(std::string_view bytes, std::size_t& valid) {
    std::vector<record_view> out;
    std::size_t pos = 0;
    while (bytes.size() - pos >= header_size) {
        const char* h = bytes.data() + pos;
        auto len = static_cast<std::size_t>(get_le(h + 9, 4));
        if (bytes.size() - pos - header_size < len)
            break;
        out.push_back({get_le(h, 8), static_cast<unsigned char>(h[8]), bytes.substr(pos + header_size, len)});
        pos += header_size + len;
    }
    valid = pos;
    return out;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

} // namespace

output_log::output_log(std::string dir, std::uint64_t limit)
    : dir_(std::move(dir))
    , limit_(std::max<std::uint64_t>(limit, 1))
    , segment_bytes_(std::clamp<std::uint64_t>(limit_ / 8, 1, max_segment)) {
    fs_util::make_directories(dir_, 0700);
    std::vector<std::uint64_t> firsts;
    if (DIR* d = ::opendir(dir_.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string_view name = e->d_name;
            if (name.starts_with("seg-") && name.size() == 24)
                firsts.push_back(std::stoull(std::string(name.substr(4))));
        }
        ::closedir(d);
    }
    std::sort(firsts.begin(), firsts.end());
    // A record cut by a crash is dropped; so is everything after a segment that does not follow on.
    for (auto first : firsts) {
        std::string path = dir_ + "/" + segment_name(first);
        if (!segments_.empty() && first != end_) {
            ::unlink(path.c_str());
            continue;
        }
        auto bytes = fs_util::read_file(path).value_or(std::string());
        std::size_t valid = 0;
        auto records = parse_records(bytes, valid);
        if (valid < bytes.size() && ::truncate(path.c_str(), static_cast<off_t>(valid)) != 0)
            fail("truncate " + path);
        segment s{first, 0, path};
        for (const auto& r : records)
            s.bytes += r.data.size();
        if (segments_.empty())
            end_ = first;
        end_ += s.bytes;
        segments_.push_back(std::move(s));
    }
    trim();
}

output_log::~output_log() {
    if (fd_ >= 0)
        ::close(fd_);
}

void output_log::open_segment(std::uint64_t first) {
    if (fd_ >= 0)
        ::close(fd_);
    std::string path = dir_ + "/" + segment_name(first);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0)
        fail("open " + path);
    if (segments_.empty() || segments_.back().first != first)
        segments_.push_back({first, 0, path});
}

void output_log::append(int stream, std::string_view data) {
    std::lock_guard lock(mutex_);
    while (!data.empty()) {
        if (segments_.empty() || segments_.back().bytes >= segment_bytes_)
            open_segment(end_);
        else if (fd_ < 0)
            open_segment(segments_.back().first);
        auto& seg = segments_.back();
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), segment_bytes_ - seg.bytes));
        std::string rec(header_size, '\0');
        put_le(rec.data(), end_, 8);
        rec[8] = static_cast<char>(stream);
        put_le(rec.data() + 9, n, 4);
        rec.append(data.substr(0, n));
        fs_util::write_all(fd_, rec, seg.path);
        seg.bytes += n;
        end_ += n;
        data.remove_prefix(n);
        trim();
    }
}

void output_log::trim() {
    std::uint64_t kept = 0;
    for (const auto& s : segments_)
        kept += s.bytes;
    while (segments_.size() > 1 && kept > limit_) {
        kept -= segments_.front().bytes;
        ::unlink(segments_.front().path.c_str());
        segments_.erase(segments_.begin());
    }
}

std::uint64_t output_log::start() const {
    std::lock_guard lock(mutex_);
    return segments_.empty() ? end_ : segments_.front().first;
}

std::uint64_t output_log::end() const {
    std::lock_guard lock(mutex_);
    return end_;
}

output_log::read_result output_log::read(std::uint64_t from, std::size_t max) const {
    read_result out;
    std::vector<segment> segments;
    {
        std::lock_guard lock(mutex_);
        std::uint64_t start = segments_.empty() ? end_ : segments_.front().first;
        if (from < start) {
            out.gap_to = start;
            from = start;
        }
        from = std::min(from, end_);
        for (const auto& s : segments_)
            if (s.first + s.bytes > from)
                segments.push_back(s);
    }
    std::size_t taken = 0;
    for (const auto& s : segments) {
        if (taken >= max)
            break;
        // A segment trimmed since is simply not there: the next read reports the gap.
        auto bytes = fs_util::read_file(s.path);
        if (!bytes)
            break;
        std::size_t valid = 0;
        for (const auto& r : parse_records(*bytes, valid)) {
            if (taken >= max || r.offset >= s.first + s.bytes)
                break;
            if (r.offset + r.data.size() <= from)
                continue;
            auto skip = static_cast<std::size_t>(from > r.offset ? from - r.offset : 0);
            auto piece = r.data.substr(skip, max - taken);
            if (!out.chunks.empty() && out.chunks.back().stream == r.stream &&
                out.chunks.back().offset + out.chunks.back().data.size() == r.offset + skip)
                out.chunks.back().data.append(piece);
            else
                out.chunks.push_back({r.offset + skip, r.stream, std::string(piece)});
            taken += piece.size();
            from = r.offset + skip + piece.size();
        }
    }
    return out;
}

void output_log::remove() noexcept {
    std::lock_guard lock(mutex_);
    if (fd_ >= 0)
        ::close(std::exchange(fd_, -1));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    segments_.clear();
}

} // namespace ag::engine
