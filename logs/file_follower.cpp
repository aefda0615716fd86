#include "logs/file_follower.hpp"

#include "logs/decode.hpp"
#include "logs/hub.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

namespace ag::logs {
namespace {

constexpr auto partial_flush_after = std::chrono::seconds(1);

std::set<std::string> expand(const std::vector<std::string>& globs) {
    std::set<std::string> out;
    for (const auto& g : globs) {
        glob_t gl{};
        if (::glob(g.c_str(), GLOB_NOSORT, nullptr, &gl) == 0)
            for (std::size_t i = 0; i < gl.gl_pathc; ++i)
                out.insert(gl.gl_pathv[i]);
        ::globfree(&gl);
    }
    return out;
}

} // namespace

file_follower::file_follower(hub& h, std::vector<std::string> globs, std::string source)
    : hub_(h)
    , globs_(std::move(globs))
    , source_(std::move(source)) {}

file_follower::~file_follower() {
    for (auto& [path, f] : files_)
        if (f.fd >= 0)
            ::close(f.fd);
}

void file_follower::emit(std::string_view line) {
    pending_.push_back(decode_line(line, source_));
}

void file_follower::publish() {
    hub_.publish_batch(pending_);
    pending_.clear();
}

void file_follower::read_new(followed& f) {
    char buf[64 * 1024];
    bool had_partial = f.lines.has_partial();
    for (;;) {
        ssize_t n = ::pread(f.fd, buf, sizeof buf, f.offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        f.offset += n;
        f.lines.feed(std::string_view(buf, static_cast<std::size_t>(n)),
                     [&](std::string_view l) { emit(l); });
    }
    auto now = std::chrono::steady_clock::now();
    if (!f.lines.has_partial())
        return;
    if (!had_partial)
        f.partial_since = now;
    else if (now - f.partial_since >= partial_flush_after)
        f.lines.flush([&](std::string_view l) { emit(l); });
}

void file_follower::tick() {
    auto paths = expand(globs_);
    // Files we follow: read what is new, then notice rotation (another file under the name) and truncation.
    // A file that left its name may have been renamed to one the globs also match (app.log -> app.log.1):
    // keep it aside so it is continued, not read again from its start.
    std::map<std::pair<unsigned long long, unsigned long long>, followed> moved;
    for (auto it = files_.begin(); it != files_.end();) {
        auto& f = it->second;
        read_new(f);
        struct stat st {};
        bool same = ::stat(it->first.c_str(), &st) == 0 &&
                    static_cast<unsigned long long>(st.st_dev) == f.dev &&
                    static_cast<unsigned long long>(st.st_ino) == f.ino;
        if (!same) {
            read_new(f); // whatever the old file got after our read and before its replacement
            moved.emplace(std::make_pair(f.dev, f.ino), std::move(f));
            it = files_.erase(it);
            continue; // a new file under the name is picked up below, from its start
        }
        if (st.st_size < f.offset) {
            f.offset = 0;
            read_new(f);
        }
        ++it;
    }
    for (const auto& p : paths) {
        if (files_.count(p))
            continue;
        int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            continue;
        }
        auto key = std::make_pair(static_cast<unsigned long long>(st.st_dev),
                                  static_cast<unsigned long long>(st.st_ino));
        if (auto m = moved.find(key); m != moved.end()) {
            ::close(fd);
            files_.emplace(p, std::move(m->second));
            moved.erase(m);
            continue;
        }
        followed f;
        f.fd = fd;
        f.dev = key.first;
        f.ino = key.second;
        f.offset = first_ ? st.st_size : 0;
        auto& added = files_.emplace(p, std::move(f)).first->second;
        if (!first_)
            read_new(added);
    }
    for (auto& [key, f] : moved) {
        f.lines.flush([&](std::string_view l) { emit(l); });
        ::close(f.fd);
    }
    first_ = false;
    publish();
}

} // namespace ag::logs
