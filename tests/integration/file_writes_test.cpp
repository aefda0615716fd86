// docs/api.md §19: PUT, DELETE and move of files, and directory archives, against the real daemon with real
// clients (tar, unzip).
#include "runtime/net.hpp"
#include "support/gateway.hpp"
#include "support/kill.hpp"
#include "support/shell.hpp"
#include "support/temp_dir.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

using test::gateway;
using namespace ag::net;

namespace {

// A PUT written by hand: the body goes out piece by piece (never held whole), and the answer may come
// before the body ends (413 mid-stream).
class streamed_put {
public:
    streamed_put(const gateway& d, const std::string& target, std::optional<std::uint64_t> length,
                 const test::header_list& extra = {}) {
        fd_ = test::connect_loopback(d.port());
        // An exception, not a REQUIRE: under a kill -9 loop the daemon may be gone before the connect, which
        // the loop expects; anywhere else it fails the test case all the same.
        if (fd_ < 0)
            throw std::runtime_error("cannot connect to the daemon");
        timeval tv{20, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        chunked_ = !length;
        std::string head = "PUT " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                           gateway::token + "\r\n";
        head +=
            length ? "Content-Length: " + std::to_string(*length) + "\r\n" : "Transfer-Encoding: chunked\r\n";
        for (const auto& [k, v] : extra)
            head += k + ": " + v + "\r\n";
        head += "\r\n";
        send_raw(head);
    }
    ~streamed_put() { ::close(fd_); }

    // False once the server answered or closed (stop sending).
    bool send(std::string_view data) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 0) > 0)
            return false;
        if (!chunked_)
            return send_raw(data);
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        return send_raw(size) && send_raw(data) && send_raw("\r\n");
    }
    void finish() {
        if (chunked_)
            send_raw("0\r\n\r\n");
    }
    test::http_result answer() {
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        boost::beast::error_code ec;
        std::string pending;
        char buf[65536];
        while (!parser.is_done()) {
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0); // bounded by SO_RCVTIMEO
            if (n <= 0)
                break;
            pending.append(buf, static_cast<std::size_t>(n));
            while (!pending.empty() && !parser.is_done()) {
                std::size_t used = parser.put(boost::asio::buffer(pending), ec);
                pending.erase(0, used);
                if (ec == http::error::need_more) {
                    ec = {};
                    break;
                }
                if (ec || used == 0)
                    break;
            }
            if (ec)
                break;
        }
        test::http_result r;
        if (!parser.is_header_done())
            return r;
        r.status = static_cast<int>(parser.get().result_int());
        r.body = parser.get().body();
        return r;
    }

private:
    bool send_raw(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    int fd_ = -1;
    bool chunked_ = false;
};

// Bytes that differ from block to block, made as they are sent.
std::string block(std::size_t size, std::uint64_t seed) {
    std::string s(size, '\0');
    std::uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (std::size_t i = 0; i < size; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(s.data() + i, &x, std::min<std::size_t>(8, size - i));
    }
    return s;
}

std::vector<std::string> temps_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& name : test::list_dir(dir))
        if (name.find(".agw-put-") != std::string::npos)
            out.push_back(name);
    return out;
}

} // namespace

TEST_CASE("files: PUT creates, replaces, and answers the validators") {
    gateway d;
    auto created = d.request("PUT", d.api("/files?path=workspace/new.txt"), "first");
    CHECK(created.status == 201);
    CHECK(created.json()["size"] == 5);
    CHECK(created.json()["path"] == d.workspace() + "/new.txt");
    CHECK(test::read_file(d.workspace() + "/new.txt") == "first");
    std::string etag = created.json()["etag"];
    // The same validator as GET gives.
    CHECK(d.get(d.api("/files?path=workspace/new.txt")).header("etag") == etag);

    auto replaced = d.request("PUT", d.api("/files?path=workspace/new.txt"), "second", {{"If-Match", etag}});
    CHECK(replaced.status == 200);
    CHECK(test::read_file(d.workspace() + "/new.txt") == "second");
    // The old validator no longer matches: 412, and the file is left as it is.
    auto stale = d.request("PUT", d.api("/files?path=workspace/new.txt"), "third", {{"If-Match", etag}});
    CHECK(stale.status == 412);
    CHECK(test::read_file(d.workspace() + "/new.txt") == "second");
    auto exists = d.request("PUT", d.api("/files?path=workspace/new.txt"), "third", {{"If-None-Match", "*"}});
    CHECK(exists.status == 412);
    CHECK(d.request("PUT", d.api("/files?path=workspace/other.txt"), "x", {{"If-None-Match", "*"}}).status ==
          201);
    CHECK(d.request("PUT", d.api("/files?path=workspace/none.txt"), "x", {{"If-Match", etag}}).status == 412);

    // An empty body makes an empty file; a replaced file keeps its mode.
    ::chmod((d.workspace() + "/new.txt").c_str(), 0750);
    CHECK(d.request("PUT", d.api("/files?path=workspace/new.txt"), "").status == 200);
    struct stat st {};
    REQUIRE(::stat((d.workspace() + "/new.txt").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0750);
    CHECK(st.st_size == 0);

    // Parents must exist unless mkdirs=true.
    auto no_parent = d.request("PUT", d.api("/files?path=workspace/a/b/c.txt"), "deep");
    CHECK(no_parent.status == 404);
    CHECK(!test::exists(d.workspace() + "/a"));
    CHECK(d.request("PUT", d.api("/files?path=workspace/a/b/c.txt&mkdirs=true"), "deep").status == 201);
    CHECK(test::read_file(d.workspace() + "/a/b/c.txt") == "deep");
    CHECK(d.request("PUT", d.api("/files?path=workspace/a"), "x").status == 409); // a directory is there
    CHECK(d.request("PUT", d.api("/files"), "x").status == 400);
    CHECK(d.request("PUT", d.api("/files?path=.agent-gateway/gateway-token"), "x").status == 403);
    CHECK(d.request("PUT", d.api("/files?path=workspace/.git/config"), "x").status == 403);
    CHECK(temps_in(d.workspace()).empty());
}

TEST_CASE("files: PUT through a symlinked directory is refused") {
    gateway d;
    test::temp_dir outside;
    ::symlink(outside.path.c_str(), (d.workspace() + "/link").c_str());
    auto r = d.request("PUT", d.api("/files?path=workspace/link/x.txt"), "escape");
    CHECK(r.status == 409);
    CHECK(r.json()["error"] == "Path goes through a symbolic link");
    CHECK(!test::exists(outside.path + "/x.txt"));
    auto made = d.request("PUT", d.api("/files?path=workspace/link/sub/x.txt&mkdirs=true"), "escape");
    CHECK(made.status == 409);
    CHECK(!test::exists(outside.path + "/sub"));
}

TEST_CASE("files: PUT over --max-put-bytes is 413 by length and by a chunked stream, the old file kept") {
    gateway d({"--max-put-bytes", "1000000"});
    test::write_file(d.workspace() + "/keep.bin", "old");
    {
        streamed_put put(d, d.api("/files?path=workspace/keep.bin"), 1000001);
        auto r = put.answer(); // before any of the body
        CHECK(r.status == 413);
    }
    {
        streamed_put put(d, d.api("/files?path=workspace/keep.bin"), std::nullopt);
        std::uint64_t sent = 0;
        for (int i = 0; i < 100 && put.send(block(65536, static_cast<std::uint64_t>(i))); ++i)
            sent += 65536;
        auto r = put.answer();
        CHECK(r.status == 413);
        CHECK(sent > 1000000 - 65536);
    }
    // Exactly the limit passes.
    streamed_put put(d, d.api("/files?path=workspace/limit.bin"), std::nullopt);
    put.send(std::string(1000000, 'x'));
    put.finish();
    CHECK(put.answer().status == 201);
    CHECK(test::read_file(d.workspace() + "/keep.bin") == "old");
    CHECK(temps_in(d.workspace()).empty());
}

TEST_CASE("files: a 500 MiB PUT streams to disk with the daemon's memory bounded") {
    gateway d;
    const std::uint64_t total = 500ULL << 20;
    const std::size_t piece = 1 << 20;
    auto one = block(piece, 7);
    long before = test::peak_rss_kib(d.pid());
    streamed_put put(d, d.api("/files?path=workspace/big.bin"), total);
    for (std::uint64_t sent = 0; sent < total; sent += piece) {
        // The last byte of each MiB numbers it, so a reordered or lost piece shows.
        one.back() = static_cast<char>(sent / piece);
        REQUIRE(put.send(one));
    }
    auto r = put.answer();
    CHECK(r.status == 201);
    long after = test::peak_rss_kib(d.pid());
    MESSAGE("peak RSS " << before << " KiB before, " << after << " KiB after a 500 MiB PUT");
#ifndef AG_SANITIZED
    CHECK(after - before < 64 * 1024);
#endif
    struct stat st {};
    REQUIRE(::stat((d.workspace() + "/big.bin").c_str(), &st) == 0);
    CHECK(static_cast<std::uint64_t>(st.st_size) == total);
    std::ifstream in(d.workspace() + "/big.bin", std::ios::binary);
    std::string got(piece, '\0');
    for (std::uint64_t i = 0; i < total / piece; i += 97) {
        in.seekg(static_cast<std::streamoff>(i * piece));
        in.read(got.data(), static_cast<std::streamsize>(piece));
        one.back() = static_cast<char>(i);
        REQUIRE(got == one);
    }
    std::filesystem::remove(d.workspace() + "/big.bin");
}

TEST_CASE("files: PUT killed with SIGKILL leaves the old file or the new one, and no temp file") {
    test::temp_dir root;
    const std::string old_content(3 << 20, 'o');
    const std::string new_content(3 << 20, 'n');
    for (int round = 0; round < 6; ++round) {
        auto d = std::make_unique<gateway>(std::vector<std::string>{}, root.path);
        const std::string file = d->workspace() + "/victim.bin";
        if (round == 0)
            test::write_file(file, old_content);
        auto put = [&] {
            streamed_put p(*d, d->api("/files?path=workspace/victim.bin"), new_content.size());
            for (std::size_t at = 0; at < new_content.size(); at += 65536)
                if (!p.send(std::string_view(new_content).substr(at, 65536)))
                    break;
            p.answer();
        };
        test::kill_during(*d, std::chrono::microseconds(2000 + round * 15000), put);
        d.reset();
        gateway again({}, root.path);
        auto now = test::read_file(file);
        CHECK((now == old_content || now == new_content));
        CHECK(temps_in(again.workspace()).empty());
        CHECK(test::list_dir(root.path + "/.agent-gateway/put-pending").empty());
        test::write_file(file, old_content);
    }
}

TEST_CASE("files: a temp file recorded by a killed PUT is removed at start") {
    test::temp_dir root;
    std::filesystem::create_directories(root.path + "/workspace");
    std::filesystem::create_directories(root.path + "/.agent-gateway/put-pending");
    test::write_file(root.path + "/workspace/.agw-put-abc.tmp", "partial");
    test::write_file(root.path + "/workspace/.agw-put-keep", "not ours");
    test::write_file(root.path + "/.agent-gateway/put-pending/r1",
                     root.path + "/workspace/.agw-put-abc.tmp\n");
    test::write_file(root.path + "/.agent-gateway/put-pending/r2", root.path + "/workspace/.agw-put-keep\n");
    gateway d({}, root.path);
    CHECK(!test::exists(root.path + "/workspace/.agw-put-abc.tmp"));
    CHECK(test::exists(root.path + "/workspace/.agw-put-keep"));
    CHECK(test::list_dir(root.path + "/.agent-gateway/put-pending").empty());
}

TEST_CASE("files: DELETE a file, an empty directory, a tree; the workspace and STATE are refused") {
    gateway d;
    test::put(d.workspace() + "/t/a/1.txt", "1");
    test::put(d.workspace() + "/t/a/2.txt", "2");
    test::put(d.workspace() + "/t/b/3.txt", "3");
    ::symlink("/etc", (d.workspace() + "/t/etc-link").c_str());
    ::mkdir((d.workspace() + "/empty").c_str(), 0755);
    test::write_file(d.workspace() + "/f.txt", "f");

    auto file = d.request("DELETE", d.api("/files?path=workspace/f.txt"));
    CHECK(file.status == 200);
    CHECK(file.json()["removed"] == 1);
    CHECK(!test::exists(d.workspace() + "/f.txt"));
    CHECK(d.request("DELETE", d.api("/files?path=workspace/f.txt")).status == 404);
    CHECK(d.request("DELETE", d.api("/files?path=workspace/empty")).json()["removed"] == 1);
    auto full = d.request("DELETE", d.api("/files?path=workspace/t"));
    CHECK(full.status == 409);
    auto tree = d.request("DELETE", d.api("/files?path=workspace/t&recursive=true"));
    CHECK(tree.status == 200);
    CHECK(tree.json()["removed"] == 7); // t, a, 1, 2, b, 3, the link
    CHECK(!test::exists(d.workspace() + "/t"));
    CHECK(test::exists("/etc/passwd")); // the link went, not what it named

    for (std::string p : {"workspace", "workspace/", ".", "/", ".agent-gateway", ".agent-gateway/logs",
                          "workspace/.git", "workspace/../workspace"}) {
        auto r = d.request("DELETE", d.api("/files?path=" + p + "&recursive=true"));
        CHECK_MESSAGE(r.status == 403, p);
    }
    CHECK(test::exists(d.workspace() + "/.git"));
}

TEST_CASE("files: move renames across directories, 409 on an existing target without overwrite") {
    gateway d;
    test::put(d.workspace() + "/src/a.txt", "A");
    test::put(d.workspace() + "/dst/b.txt", "B");
    auto moved =
        d.post(d.api("/files/move"), {{"from", "workspace/src/a.txt"}, {"to", "workspace/dst/a.txt"}});
    CHECK(moved.status == 200);
    CHECK(moved.json()["to"] == d.workspace() + "/dst/a.txt");
    CHECK(test::read_file(d.workspace() + "/dst/a.txt") == "A");
    CHECK(!test::exists(d.workspace() + "/src/a.txt"));

    auto clash =
        d.post(d.api("/files/move"), {{"from", "workspace/dst/a.txt"}, {"to", "workspace/dst/b.txt"}});
    CHECK(clash.status == 409);
    CHECK(test::read_file(d.workspace() + "/dst/b.txt") == "B");
    auto over = d.post(d.api("/files/move"),
                       {{"from", "workspace/dst/a.txt"}, {"to", "workspace/dst/b.txt"}, {"overwrite", true}});
    CHECK(over.status == 200);
    CHECK(test::read_file(d.workspace() + "/dst/b.txt") == "A");

    CHECK(d.post(d.api("/files/move"), {{"from", "workspace/nope"}, {"to", "workspace/x"}}).status == 404);
    CHECK(d.post(d.api("/files/move"), {{"from", "workspace/dst"}, {"to", "workspace/dst/in"}}).status ==
          400);
    CHECK(d.post(d.api("/files/move"), {{"from", "workspace"}, {"to", "elsewhere"}}).status == 403);
    CHECK(d.post(d.api("/files/move"), {{"from", "workspace/src"}, {"to", ".agent-gateway/x"}}).status ==
          403);
    CHECK(d.post(d.api("/files/move"), {{"from", 1}, {"to", "x"}}).status == 400);
    CHECK(d.post(d.api("/files/move"),
                 {{"from", "workspace/src"}, {"to", "workspace/s2"}, {"overwrite", "yes"}})
              .status == 400);
}

TEST_CASE("files: archives in tar.gz, tar and zip as tar and unzip read them") {
    gateway d;
    const std::string ws = d.workspace();
    test::put(ws + "/proj/readme.md", "# readme\n");
    test::put(ws + "/proj/src/main.c", std::string(200000, 'c'));
    test::put(ws + "/proj/run.sh", "#!/bin/sh\necho hi\n");
    ::chmod((ws + "/proj/run.sh").c_str(), 0755);
    ::symlink("src/main.c", (ws + "/proj/link").c_str());
    test::put(ws + "/proj/logs/x.log", "noise");
    test::put(ws + "/proj/keep.log.txt", "kept");

    test::temp_dir tmp;
    for (std::string format : {"tar.gz", "tar", "zip"}) {
        CAPTURE(format);
        auto r = d.get(d.api("/files/archive?path=workspace/proj&format=" + format + "&exclude=*.log"));
        REQUIRE(r.status == 200);
        CHECK(r.header("content-disposition") == "attachment; filename=\"proj." + format + "\"");
        std::string file = tmp.path + "/a." + format;
        test::write_file(file, r.body);
        std::string out = tmp.path + "/out-" + format;
        std::filesystem::create_directories(out);
        std::string cmd = format == "zip" ? "unzip -q " + file + " -d " + out
                                          : "tar -x" + std::string(format == "tar.gz" ? "z" : "") + "f " +
                                                file + " -C " + out;
        CHECK(test::sh(cmd + " && echo ok") == "ok");
        CHECK(test::read_file(out + "/proj/readme.md") == "# readme\n");
        CHECK(test::read_file(out + "/proj/src/main.c") == std::string(200000, 'c'));
        CHECK(test::read_file(out + "/proj/keep.log.txt") == "kept");
        CHECK(!test::exists(out + "/proj/logs/x.log"));
        CHECK(std::filesystem::is_symlink(out + "/proj/link"));
        CHECK(std::filesystem::read_symlink(out + "/proj/link") == "src/main.c");
        struct stat st {};
        REQUIRE(::stat((out + "/proj/run.sh").c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0755);
        struct stat orig {};
        ::stat((ws + "/proj/readme.md").c_str(), &orig);
        ::stat((out + "/proj/readme.md").c_str(), &st);
        CHECK(st.st_mtim.tv_sec == orig.st_mtim.tv_sec);
    }
    auto dir_excluded =
        d.get(d.api("/files/archive?path=workspace/proj&format=tar&exclude=logs&exclude=src"));
    test::write_file(tmp.path + "/ex.tar", dir_excluded.body);
    auto listing = test::sh("tar -tf " + tmp.path + "/ex.tar");
    CHECK(listing.find("logs") == std::string::npos);
    CHECK(listing.find("src/") == std::string::npos);
    CHECK(listing.find("proj/readme.md") != std::string::npos);

    CHECK(d.get(d.api("/files/archive?path=workspace/proj/readme.md")).status == 400);
    CHECK(d.get(d.api("/files/archive?path=workspace/nope")).status == 404);
    CHECK(d.get(d.api("/files/archive?path=workspace/proj&format=rar")).status == 400);
    CHECK(d.get(d.api("/files/archive")).status == 400);
}
