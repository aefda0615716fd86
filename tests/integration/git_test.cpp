// The HTTP side of Git Smart HTTP (docs/api.md §13) that the git client does not show: content types,
// no-cache headers, errors, the credentials probe, gzip bodies, and the workspace made a repository at start.
// The git client scenarios themselves are in tests/git/scenarios.sh.
#include "support/engine_helpers.hpp"
#include "support/gateway.hpp"
#include "support/shell.hpp"

#include "support/gzip.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

using test::gateway;
using test::put;
using test::sh;

namespace {

std::string pkt(const std::string& line) {
    char len[5];
    std::snprintf(len, sizeof len, "%04zx", line.size() + 4);
    return len + line;
}

const test::header_list upload_request{{"Content-Type", "application/x-git-upload-pack-request"}};
const test::header_list receive_request{{"Content-Type", "application/x-git-receive-pack-request"}};

void check_no_cache(const test::http_result& r) {
    CHECK(r.header("cache-control") == "no-cache, max-age=0, must-revalidate");
    CHECK(r.header("pragma") == "no-cache");
    CHECK(r.header("expires") == "Fri, 01 Jan 1980 00:00:00 GMT");
}

} // namespace

TEST_CASE("git: the workspace becomes a repository at start; /runs/ is never in it") {
    test::temp_dir root;
    put(root.path + "/workspace/notes.md", "# notes\n");
    put(root.path + "/workspace/src/app.js", "console.log(1)\n");
    put(root.path + "/workspace/runs/run-1/out.log", "output\n");
    gateway g({}, root.path);
    const std::string ws = root.path + "/workspace";
    CHECK(sh("git -C " + ws + " symbolic-ref HEAD") == "refs/heads/main");
    CHECK(sh("git -C " + ws + " ls-tree -r --name-only HEAD") == "notes.md\nsrc/app.js");
    CHECK(sh("git -C " + ws + " status --porcelain") == "");
    CHECK(sh("git -C " + ws + " rev-list --count HEAD") == "1");
    g.stop();
    // A second start leaves an existing repository as it is.
    put(ws + "/later.txt", "later\n");
    gateway again({}, root.path);
    CHECK(sh("git -C " + ws + " rev-list --count HEAD") == "1");
    CHECK(sh("git -C " + ws + " status --porcelain") == "?? later.txt");
}

TEST_CASE("git: an empty workspace is an empty repository on branch main") {
    gateway g;
    CHECK(sh("git -C " + g.workspace() + " symbolic-ref HEAD") == "refs/heads/main");
    auto r = g.get(g.api("/git/info/refs?service=git-upload-pack"));
    REQUIRE(r.status == 200);
    // No refs: the capabilities ride on a zero id named capabilities^{}.
    CHECK(r.body.find("0000000000000000000000000000000000000000 capabilities^{}") != std::string::npos);
}

TEST_CASE("git: info/refs advertises with the exact content type, no-cache headers and pkt-lines") {
    test::temp_dir root;
    put(root.path + "/workspace/a.txt", "a\n");
    gateway g({}, root.path);
    const std::string head = sh("git -C " + g.workspace() + " rev-parse HEAD");

    auto up = g.get(g.api("/git/info/refs?service=git-upload-pack"));
    REQUIRE(up.status == 200);
    CHECK(up.header("content-type") == "application/x-git-upload-pack-advertisement");
    check_no_cache(up);
    CHECK(up.body.starts_with("001e# service=git-upload-pack\n0000"));
    // HEAD first, capabilities after a NUL on the first line only, then the branch; a closing flush.
    std::string first = up.body.substr(34);
    CHECK(first.substr(4, 45) == head + " HEAD");
    CHECK(first[49] == '\0');
    CHECK(up.body.find("symref=HEAD:refs/heads/main") != std::string::npos);
    CHECK(up.body.find("multi_ack_detailed") != std::string::npos);
    CHECK(up.body.find("side-band-64k") != std::string::npos);
    CHECK(up.body.find(pkt(head + " refs/heads/main\n")) != std::string::npos);
    CHECK(up.body.ends_with("0000"));

    auto rp = g.get(g.api("/git/info/refs?service=git-receive-pack"));
    REQUIRE(rp.status == 200);
    CHECK(rp.header("content-type") == "application/x-git-receive-pack-advertisement");
    check_no_cache(rp);
    CHECK(rp.body.starts_with("001f# service=git-receive-pack\n0000"));
    CHECK(rp.body.find(" HEAD") == std::string::npos); // receive-pack advertises no HEAD
    CHECK(rp.body.find("report-status") != std::string::npos);
    CHECK(rp.body.find("atomic") != std::string::npos);
}

TEST_CASE("git: errors are JSON with the right status") {
    gateway g;
    auto dumb = g.get(g.api("/git/info/refs"));
    CHECK(dumb.status == 403);
    CHECK(dumb.json()["error"].get<std::string>().find("smart HTTP") != std::string::npos);
    CHECK(g.get(g.api("/git/info/refs?service=git-upload-archive")).status == 403);
    CHECK(g.get(g.api("/git/HEAD")).status == 404);
    CHECK(g.get(g.api("/git/objects/info/packs")).status == 404);
    CHECK(g.get("/v0/agents/other/git/info/refs?service=git-upload-pack").status == 404);

    auto wrong_type =
        g.request("POST", g.api("/git/git-upload-pack"), "0000", {{"Content-Type", "text/plain"}});
    CHECK(wrong_type.status == 415);
    CHECK(wrong_type.header("content-type") == "application/json");
    auto wrong_encoding =
        g.request("POST", g.api("/git/git-upload-pack"), "0000",
                  {{"Content-Type", "application/x-git-upload-pack-request"}, {"Content-Encoding", "br"}});
    CHECK(wrong_encoding.status == 415);
    auto corrupt =
        g.request("POST", g.api("/git/git-upload-pack"), "\x1f\x8b garbage",
                  {{"Content-Type", "application/x-git-upload-pack-request"}, {"Content-Encoding", "gzip"}});
    CHECK(corrupt.status == 400);
    // A small body that inflates past the 16 MiB request limit.
    auto bomb =
        g.request("POST", g.api("/git/git-upload-pack"), test::gzip(std::string(20u << 20, '0')),
                  {{"Content-Type", "application/x-git-upload-pack-request"}, {"Content-Encoding", "gzip"}});
    CHECK(bomb.status == 413);
    auto bad_push = g.request("POST", g.api("/git/git-receive-pack"), "zzzz", receive_request);
    CHECK(bad_push.status == 400);
    CHECK(bad_push.json()["error"].get<std::string>().find("pkt-line") != std::string::npos);
}

TEST_CASE("git: upload-pack answers in-band: unknown wants, gzip bodies, side-band packs") {
    test::temp_dir root;
    put(root.path + "/workspace/a.txt", "a\n");
    gateway g({}, root.path);
    const std::string head = sh("git -C " + g.workspace() + " rev-parse HEAD");

    auto unknown = g.request("POST", g.api("/git/git-upload-pack"),
                             pkt("want 1111111111111111111111111111111111111111 side-band-64k\n") + "0000" +
                                 pkt("done\n"),
                             upload_request);
    REQUIRE(unknown.status == 200);
    CHECK(unknown.header("content-type") == "application/x-git-upload-pack-result");
    CHECK(unknown.body.find("ERR upload-pack: not our ref 1111111111111111111111111111111111111111") !=
          std::string::npos);

    std::string want =
        pkt("want " + head + " multi_ack_detailed side-band-64k no-progress\n") + "0000" + pkt("done\n");
    for (bool compressed : {false, true}) {
        CAPTURE(compressed);
        test::header_list h = upload_request;
        if (compressed)
            h.emplace_back("Content-Encoding", "gzip");
        auto r = g.request("POST", g.api("/git/git-upload-pack"), compressed ? test::gzip(want) : want, h);
        REQUIRE(r.status == 200);
        check_no_cache(r);
        CHECK(r.body.starts_with("0008NAK\n"));
        // The pack travels on band 1 and the stream ends with a flush.
        CHECK(r.body.substr(8, 9).ends_with(std::string("\1PACK")));
        CHECK(r.body.ends_with("0000"));
    }
    // Negotiation only (a flush instead of done): ACKs for known haves, NAK, no pack.
    auto round = g.request("POST", g.api("/git/git-upload-pack"),
                           pkt("want " + head + " multi_ack_detailed side-band-64k\n") + "0000" +
                               pkt("have " + head + "\n") +
                               pkt("have 2222222222222222222222222222222222222222\n") + "0000",
                           upload_request);
    REQUIRE(round.status == 200);
    CHECK(round.body == pkt("ACK " + head + " common\n") + pkt("NAK\n"));
}

TEST_CASE("git: receive-pack answers the credentials probe and needs the token on every request") {
    gateway g;
    auto probe = g.request("POST", g.api("/git/git-receive-pack"), "0000", receive_request);
    CHECK(probe.status == 200);
    CHECK(probe.header("content-type") == "application/x-git-receive-pack-result");
    CHECK(probe.body.empty());
    for (const char* path : {"/git/git-receive-pack", "/git/git-upload-pack"}) {
        auto r = g.request("POST", g.api(path), "0000", receive_request, false);
        CHECK(r.status == 401);
        CHECK(r.header("www-authenticate") == "Basic realm=\"agent-gateway\"");
    }
    // Basic auth with any user name and the token as password.
    auto basic = g.request("GET", g.api("/git/info/refs?service=git-upload-pack"), "",
                           {{"Authorization", "Basic eDp0ZXN0LXRva2VuLTAxMjM0NTY3ODk="}}, false);
    CHECK(basic.status == 200);
}

TEST_CASE("git: clones come from the cached pack, with newer commits spliced after it") {
    test::temp_dir root, client;
    for (int i = 0; i < 30; ++i)
        put(root.path + "/workspace/dir" + std::to_string(i % 4) + "/f" + std::to_string(i) + ".txt",
            std::string(200 + i, 'a' + i % 26) + "\n");
    gateway g({}, root.path);
    const std::string ws = g.workspace();
    // Clones are served from the cached pack once its tips file is written (git/clone_cache.cpp: last).
    REQUIRE(test::wait_until([&] { return test::exists(root.path + "/.agent-gateway/git-pack/tips"); },
                             std::chrono::seconds(10)));
    const std::string url = "http://x:" + std::string(gateway::token) +
                            "@127.0.0.1:" + std::to_string(g.port()) + "/v0/agents/local/git";
    // transfer.unpackLimit=1: the client keeps the pack as received (small ones are exploded otherwise).
    const std::string git = "git -c user.name=T -c user.email=t@example.com -c transfer.unpackLimit=1 ";
    auto objects_in = [&](const std::string& dir) {
        return sh("git -C " + dir + " count-objects -v | sed -n 's/^in-pack: //p'");
    };
    auto server_objects = [&] { return sh("git -C " + ws + " rev-list --objects --all | wc -l"); };

    // Exactly the cached pack.
    auto first = sh(git + "clone --progress " + url + " " + client.path + "/one");
    CHECK(first.find("Cached pack: 36 objects, 0 newer") != std::string::npos);
    CHECK(sh("git -C " + client.path + "/one fsck --no-dangling && echo clean").ends_with("clean"));
    CHECK(objects_in(client.path + "/one") == server_objects());

    // Commits made since: the cached pack plus the newer objects, one valid pack with no duplicates.
    for (int i = 0; i < 3; ++i) {
        put(ws + "/dir1/f1.txt", "changed " + std::to_string(i) + "\n");
        put(ws + "/new" + std::to_string(i) + "/x.txt", "new file\n");
        sh(git + "-C " + ws + " add -A && " + git + "-C " + ws + " commit -qm 'server " + std::to_string(i) +
           "'");
    }
    sh(git + "-C " + ws + " tag -a v1 -m v1");
    auto out = sh(git + "clone --progress " + url + " " + client.path + "/two");
    CHECK(out.find("Cached pack: 36 objects, 15 newer") != std::string::npos); // the splice, not a repack
    CHECK(sh("git -C " + client.path + "/two fsck --no-dangling --strict && echo clean").ends_with("clean"));
    CHECK(sh("git -C " + client.path + "/two rev-parse HEAD v1") ==
          sh("git -C " + ws + " rev-parse HEAD v1"));
    CHECK(objects_in(client.path + "/two") == server_objects());
    CHECK(sh("cat " + client.path + "/two/dir1/f1.txt") == "changed 2");
    // git's own index-pack agrees with the object count in the spliced pack's header.
    CHECK(sh("git -C " + client.path + "/two verify-pack -v $(ls " + client.path +
             "/two/.git/objects/pack/*.idx) | grep -c -E '^[0-9a-f]{40} (commit|tree|blob|tag)'") ==
          server_objects());
}

TEST_CASE(
    "git: a push's checkout cut short by a crash is undone at the next start (the tree follows the ref)") {
    test::temp_dir root;
    const std::string ws = root.path + "/workspace";
    put(ws + "/kept.txt", "old\n");
    put(ws + "/removed.txt", "still here\n");
    { gateway first({}, root.path); }
    const std::string old_head = sh("git -C " + ws + " rev-parse HEAD");
    // A pushed commit B (kept.txt changed, removed.txt deleted, added/new.txt added) whose objects reached
    // the repository; the daemon died with half of B written and the ref still at A.
    sh("git -C " + ws + " -c user.name=t -c user.email=t@t checkout -q -b pushed");
    put(ws + "/kept.txt", "new\n");
    put(ws + "/added/new.txt", "new file\n");
    sh("git -C " + ws + " rm -q removed.txt && git -C " + ws + " add -A && git -C " + ws +
       " -c user.name=t -c user.email=t@t commit -qm B");
    const std::string pushed = sh("git -C " + ws + " rev-parse HEAD");
    sh("git -C " + ws + " checkout -q main && git -C " + ws + " branch -q -D pushed");
    put(ws + "/kept.txt", "new\n");
    put(ws + "/added/new.txt", "new file\n");
    std::filesystem::remove(ws + "/removed.txt");
    test::write_file(ws + "/.git/agent-gateway-checkout", old_head + " " + pushed + "\n");

    gateway g({}, root.path);
    CHECK(g.log().find("interrupted during its checkout") != std::string::npos);
    CHECK(test::read_file(ws + "/kept.txt") == "old\n");
    CHECK(test::read_file(ws + "/removed.txt") == "still here\n");
    CHECK_FALSE(test::exists(ws + "/added"));
    CHECK(sh("git -C " + ws + " status --porcelain") == "");
    CHECK(sh("git -C " + ws + " rev-parse HEAD") == old_head);
    CHECK_FALSE(test::exists(ws + "/.git/agent-gateway-checkout"));
    CHECK(sh("git -C " + ws + " fsck --no-dangling 2>&1; echo rc=$?").ends_with("rc=0"));
}
