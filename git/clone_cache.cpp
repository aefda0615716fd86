#include "git/clone_cache.hpp"

#include "git/advertise.hpp"
#include "git/object_set.hpp"
#include "git/pack_sink.hpp"
#include "git/workspace.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/scope_exit.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace ag::git {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t pack_header = 12;
constexpr std::size_t pack_trailer = 20;

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

struct sha1 {
    sha1(const sha1&) = delete;
    sha1& operator=(const sha1&) = delete;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    sha1() { EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr); }
    ~sha1() { EVP_MD_CTX_free(ctx); }
    void update(const void* p, std::size_t n) { EVP_DigestUpdate(ctx, p, n); }
    std::string final() {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx, out, &len);
        return {reinterpret_cast<char*>(out), len};
    }
};

// Sends bytes [from, to) of a file into the sink (and the running checksum, when given).
bool copy_range(int fd, std::uint64_t from, std::uint64_t to, pack_sink& out, sha1* sum) {
    std::string buf(256 * 1024, '\0');
    while (from < to) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), to - from));
        ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(from));
        if (n <= 0)
            throw error("read the cached pack: " + std::string(n < 0 ? std::strerror(errno) : "short file"));
        if (sum)
            sum->update(buf.data(), static_cast<std::size_t>(n));
        if (!out.data(buf.data(), static_cast<std::size_t>(n)))
            return false;
        from += static_cast<std::uint64_t>(n);
    }
    return true;
}

std::string tips_text(const std::string& name, const std::vector<git_oid>& tips) {
    std::string s = name + "\n";
    for (const auto& t : tips)
        s += to_hex(t) + "\n";
    return s;
}

// What a clone asks for: branches and tags (other refs are advertised but not fetched by default, and their
// objects would only be dead weight in every clone).
std::vector<git_oid> current_tips(git_repository* repo) {
    std::vector<git_oid> tips;
    for (const auto& r : list_refs(repo))
        if (r.name.starts_with("refs/heads/") || r.name.starts_with("refs/tags/"))
            tips.push_back(r.id);
    std::sort(tips.begin(), tips.end(),
              [](const git_oid& a, const git_oid& b) { return git_oid_cmp(&a, &b) < 0; });
    tips.erase(std::unique(tips.begin(), tips.end(), oid_equal{}), tips.end());
    return tips;
}

} // namespace

struct clone_cache::pack {
    std::string name; // file names without extension: DIR/NAME.pack, DIR/NAME.idx
    int fd = -1;
    std::uint64_t size = 0;
    std::uint32_t count = 0;
    const unsigned char* idx = nullptr;
    std::size_t idx_size = 0;
    std::vector<git_oid> tips;

    pack() = default;
    pack(const pack&) = delete;
    pack& operator=(const pack&) = delete;
    ~pack() {
        if (fd >= 0)
            ::close(fd);
        if (idx)
            ::munmap(const_cast<unsigned char*>(idx), idx_size);
    }

    // Binary search in the pack index (v2: magic, version, 256 fan-out counts, then the sorted ids).
    bool contains(const git_oid& id) const {
        const unsigned char* fan = idx + 8;
        const unsigned b = id.id[0];
        std::uint32_t lo = b == 0 ? 0 : be32(fan + 4 * (b - 1));
        std::uint32_t hi = be32(fan + 4 * b);
        const unsigned char* ids = idx + 8 + 256 * 4;
        while (lo < hi) {
            std::uint32_t mid = lo + (hi - lo) / 2;
            int c = std::memcmp(ids + std::size_t(mid) * 20, id.id, 20);
            if (c == 0)
                return true;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return false;
    }

    static std::shared_ptr<const pack> open(const std::string& dir, const std::string& name,
                                            std::vector<git_oid> tips) {
        auto p = std::make_shared<pack>();
        p->name = name;
        p->tips = std::move(tips);
        p->fd = ::open((dir + "/" + name + ".pack").c_str(), O_RDONLY | O_CLOEXEC);
        int ifd = ::open((dir + "/" + name + ".idx").c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (p->fd < 0 || ifd < 0 || ::fstat(ifd, &st) != 0 || st.st_size < 8 + 256 * 4) {
            if (ifd >= 0)
                ::close(ifd);
            return nullptr;
        }
        void* m = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, ifd, 0);
        ::close(ifd);
        if (m == MAP_FAILED)
            return nullptr;
        p->idx = static_cast<const unsigned char*>(m);
        p->idx_size = static_cast<std::size_t>(st.st_size);
        unsigned char head[pack_header];
        struct stat pst {};
        if (std::memcmp(p->idx, "\377tOc\0\0\0\2", 8) != 0 || ::fstat(p->fd, &pst) != 0 ||
            ::pread(p->fd, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head) ||
            std::memcmp(head, "PACK", 4) != 0)
            return nullptr;
        p->size = static_cast<std::uint64_t>(pst.st_size);
        p->count = be32(head + 8);
        if (p->count != be32(p->idx + 8 + 255 * 4) || p->size < pack_header + pack_trailer)
            return nullptr;
        return p;
    }
};

clone_cache::clone_cache(std::string dir, workspace& ws, background_runner run_in_background)
    : dir_(std::move(dir))
    , ws_(ws)
    , run_in_background_(std::move(run_in_background)) {}

clone_cache::~clone_cache() {
    stop();
}

void clone_cache::stop() noexcept {
    stop_ = true;
    std::unique_lock lock(building_mutex_);
    built_.wait(lock, [this] { return !building_; });
}

std::shared_ptr<const clone_cache::pack> clone_cache::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

void clone_cache::load() {
    fs_util::make_directories(dir_, 0700);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec))
        if (e.path().filename().string().starts_with("tmp-"))
            fs::remove_all(e.path(), ec);
    std::ifstream in(dir_ + "/tips");
    std::string name, line;
    if (!std::getline(in, name))
        return;
    std::vector<git_oid> tips;
    while (std::getline(in, line)) {
        git_oid id;
        if (!parse_oid(line, id))
            return;
        tips.push_back(id);
    }
    auto p = pack::open(dir_, name, std::move(tips));
    if (!p) {
        log::warn("git: the cached clone pack {} is unusable; it will be rebuilt", name);
        return;
    }
    std::lock_guard lock(mutex_);
    current_ = std::move(p);
}

void clone_cache::rebuild() {
    auto started = std::chrono::steady_clock::now();
    auto repo = ws_.open();
    auto tips = current_tips(repo.get());
    auto old = current();
    if (old && std::equal(old->tips.begin(), old->tips.end(), tips.begin(), tips.end(), oid_equal{}))
        return;
    if (tips.empty())
        return;

    git_packbuilder* raw_pb = nullptr;
    check(git_packbuilder_new(&raw_pb, repo.get()), "packbuilder");
    packbuilder_ptr pb(raw_pb);
    git_packbuilder_set_threads(raw_pb, 0);
    check(git_packbuilder_set_callbacks(
              raw_pb,
              [](int, std::uint32_t, std::uint32_t, void* self) -> int {
                  return static_cast<clone_cache*>(self)->stop_.load() ? -1 : 0;
              },
              this),
          "packbuilder callbacks");
    git_revwalk* raw_walk = nullptr;
    check(git_revwalk_new(&raw_walk, repo.get()), "revwalk");
    revwalk_ptr walk(raw_walk);
    object_set tags(repo.get(), raw_pb);
    for (const auto& t : tips) {
        git_oid c;
        if (peel_to_commit(repo.get(), t, c))
            check(git_revwalk_push(raw_walk, &c), "walk");
        tags.add_tag_chain(t);
    }
    check(git_packbuilder_insert_walk(raw_pb, raw_walk), "pack history");

    std::string tmp = dir_ + "/tmp-XXXXXX";
    if (!::mkdtemp(tmp.data()))
        throw error("mkdtemp: " + std::string(std::strerror(errno)));
    std::error_code ec;
    try {
        check(git_packbuilder_write(raw_pb, tmp.c_str(), 0644, nullptr, nullptr), "write the clone pack");
        std::string name;
        for (const auto& e : fs::directory_iterator(tmp))
            if (e.path().extension() == ".pack")
                name = e.path().stem().string();
        if (name.empty())
            throw error("the clone pack was not written");
        fs::rename(tmp + "/" + name + ".pack", dir_ + "/" + name + ".pack");
        fs::rename(tmp + "/" + name + ".idx", dir_ + "/" + name + ".idx");
        fs::remove_all(tmp, ec);
        auto fresh = pack::open(dir_, name, tips);
        if (!fresh)
            throw error("the new clone pack cannot be read back");
        {
            std::lock_guard lock(mutex_);
            current_ = fresh;
        }
        // Last: a start finds a pack only with its tips (a crash before this rebuilds it), and the tips file
        // appearing means clones are served from this pack already.
        fs_util::write_file_atomic(dir_ + "/tips", tips_text(name, tips), 0600);
        if (old && old->name != name) {
            fs::remove(dir_ + "/" + old->name + ".pack", ec);
            fs::remove(dir_ + "/" + old->name + ".idx", ec);
        }
        log::info(
            "git: clone pack rebuilt: {} objects, {} bytes in {} ms", fresh->count, fresh->size,
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                .count());
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
}

void clone_cache::rebuild_in_background() {
    {
        std::lock_guard lock(building_mutex_);
        if (stop_ || building_)
            return;
        building_ = true;
    }
    auto done = [this] {
        std::lock_guard lock(building_mutex_);
        building_ = false;
        built_.notify_all();
    };
    try {
        // A clone pack is a convenience; the agent's own work comes first (the runner lowers the priority).
        run_in_background_([this, done] {
            try {
                rebuild();
            } catch (const std::exception& e) {
                if (!stop_)
                    log::warn("git: clone pack rebuild failed: {}", e.what());
            }
            release_memory();
            done();
        });
    } catch (const std::exception& e) {
        log::warn("git: clone pack rebuild not started: {}", e.what());
        done();
    }
}

bool clone_cache::serve(git_repository* repo, const std::vector<git_oid>& wants, pack_sink& out) {
    auto base = current();
    if (!base)
        return false;

    // What the wants reach beyond the cached tips.
    git_packbuilder* raw_pb = nullptr;
    check(git_packbuilder_new(&raw_pb, repo), "packbuilder");
    packbuilder_ptr pb(raw_pb);
    git_packbuilder_set_threads(raw_pb, 0);
    git_revwalk* raw_walk = nullptr;
    check(git_revwalk_new(&raw_walk, repo), "revwalk");
    revwalk_ptr walk(raw_walk);
    object_set extra(repo, raw_pb, [&base](const git_oid& id) { return base->contains(id); });
    bool any = false;
    for (const auto& w : wants) {
        if (base->contains(w))
            continue;
        extra.add_tag_chain(w);
        git_oid c;
        if (peel_to_commit(repo, w, c)) {
            check(git_revwalk_push(raw_walk, &c), "walk");
            any = true;
        }
    }
    if (any) {
        for (const auto& t : base->tips) {
            git_oid c;
            if (peel_to_commit(repo, t, c))
                git_revwalk_hide(raw_walk, &c);
        }
        git_oid c;
        while (git_revwalk_next(&c, raw_walk) == 0)
            extra.add_commit(c);
    }
    const std::size_t extra_count = git_packbuilder_object_count(raw_pb);
    out.progress("Cached pack: " + std::to_string(base->count) + " objects, " + std::to_string(extra_count) +
                 " newer\n");

    if (extra_count == 0) {
        copy_range(base->fd, 0, base->size, out, nullptr); // false only when the client went away
        return true;
    }

    if (extra_count > std::max<std::size_t>(1000, base->count / 5))
        rebuild_in_background();

    // Pack the newer objects into an unnamed temporary file, then splice.
    int tfd = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (tfd < 0)
        throw error("temporary pack: " + std::string(std::strerror(errno)));
    scope_exit close_tfd([tfd] { ::close(tfd); });
    check(git_packbuilder_foreach(
              raw_pb,
              [](void* buf, std::size_t size, void* payload) -> int {
                  try {
                      fs_util::write_all(*static_cast<int*>(payload),
                                         std::string_view(static_cast<const char*>(buf), size),
                                         "temporary pack");
                  } catch (const std::exception&) {
                      return -1; // the check below reports it
                  }
                  return 0;
              },
              &tfd),
          "pack newer objects");
    struct stat st {};
    ::fstat(tfd, &st);
    const auto extra_size = static_cast<std::uint64_t>(st.st_size);

    sha1 sum;
    unsigned char header[pack_header] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    const std::uint32_t total = base->count + static_cast<std::uint32_t>(extra_count);
    header[8] = static_cast<unsigned char>(total >> 24);
    header[9] = static_cast<unsigned char>(total >> 16);
    header[10] = static_cast<unsigned char>(total >> 8);
    header[11] = static_cast<unsigned char>(total);
    sum.update(header, sizeof header);
    if (!out.data(header, sizeof header))
        return true;
    if (!copy_range(base->fd, pack_header, base->size - pack_trailer, out, &sum))
        return true;
    if (!copy_range(tfd, pack_header, extra_size - pack_trailer, out, &sum))
        return true;
    std::string trailer = sum.final();
    out.data(trailer.data(), trailer.size());
    return true;
}

} // namespace ag::git
