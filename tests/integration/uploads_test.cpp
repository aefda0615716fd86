// docs/api.md §9 uploads: names, base64 rules, limits, never overwriting, nothing half-written.
#include "support/gateway.hpp"

#include <boost/beast/core/detail/base64.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <future>
#include <set>

using test::gateway;

namespace {
std::string b64(const std::string& in) {
    std::string out(boost::beast::detail::base64::encoded_size(in.size()), '\0');
    out.resize(boost::beast::detail::base64::encode(out.data(), in.data(), in.size()));
    return out;
}
test::http_result upload(const gateway& d, const nlohmann::json& body) {
    return d.post(d.api("/files/upload"), body);
}
} // namespace

TEST_CASE("upload: writes WORKSPACE/uploads/NAME, then NAME-1, NAME-2") {
    gateway d;
    auto r = upload(d, {{"filename", "report.pdf"}, {"contentBase64", b64("first")}});
    REQUIRE(r.status == 200);
    auto j = r.json();
    CHECK(j["path"] == d.workspace() + "/uploads/report.pdf");
    CHECK(j["filename"] == "report.pdf");
    CHECK(j["size"] == 5);
    CHECK(test::read_file(d.workspace() + "/uploads/report.pdf") == "first");

    auto r2 = upload(d, {{"filename", "report.pdf"}, {"contentBase64", b64("second")}});
    CHECK(r2.json()["filename"] == "report-1.pdf");
    auto r3 = upload(d, {{"filename", "report.pdf"}, {"contentBase64", b64("third")}});
    CHECK(r3.json()["filename"] == "report-2.pdf");
    CHECK(test::read_file(d.workspace() + "/uploads/report.pdf") == "first");
    CHECK(test::read_file(d.workspace() + "/uploads/report-2.pdf") == "third");

    CHECK(upload(d, {{"filename", ".env"}, {"contentBase64", ""}}).json()["size"] == 0);
    CHECK(upload(d, {{"filename", ".env"}, {"contentBase64", ""}}).json()["filename"] == ".env-1");
    CHECK(upload(d, {{"filename", "Makefile"}, {"contentBase64", ""}}).status == 200);
    CHECK(upload(d, {{"filename", "Makefile"}, {"contentBase64", ""}}).json()["filename"] == "Makefile-1");
    CHECK(upload(d, {{"filename", "ünïcode ✓.txt"}, {"contentBase64", b64("u")}}).json()["filename"] ==
          "ünïcode ✓.txt");
    CHECK(test::list_dir(d.workspace() + "/uploads") ==
          std::vector<std::string>{".env", ".env-1", "Makefile", "Makefile-1", "report-1.pdf", "report-2.pdf",
                                   "report.pdf", "ünïcode ✓.txt"});
}

TEST_CASE("upload: base64 forms") {
    gateway d;
    std::string bytes;
    for (int i = 0; i < 256; ++i)
        bytes += static_cast<char>(i);
    std::string enc = b64(bytes);
    auto read_back = [&](const nlohmann::json& body) {
        auto r = upload(d, body);
        REQUIRE(r.status == 200);
        return test::read_file(r.json()["path"].get<std::string>());
    };
    CHECK(read_back({{"filename", "a.bin"}, {"contentBase64", enc}}) == bytes);
    CHECK(read_back({{"filename", "b.bin"},
                     {"contentBase64", "data:application/octet-stream;base64," + enc}}) == bytes);
    std::string wrapped;
    for (std::size_t i = 0; i < enc.size(); i += 76)
        wrapped += enc.substr(i, 76) + "\r\n";
    CHECK(read_back({{"filename", "c.bin"}, {"contentBase64", wrapped}}) == bytes);
    CHECK(read_back({{"filename", "d.txt"}, {"contentBase64", "aGk"}}) == "hi"); // unpadded
    // JSON may escape the slash; the full parser handles it.
    auto raw = d.request("POST", d.api("/files/upload"), R"({"filename":"e.bin","contentBase64":"\/w=="})",
                         {{"Content-Type", "application/json"}});
    REQUIRE(raw.status == 200);
    CHECK(test::read_file(raw.json()["path"].get<std::string>()) == "\xFF");
}

TEST_CASE("upload: bad input gets 400 and leaves nothing behind") {
    gateway d;
    for (const std::string& name : std::vector<std::string>{"", ".", "..", "a/b", "a\\b",
                                                            std::string(256, 'n'), std::string("a\0b", 3)}) {
        auto r = upload(d, {{"filename", name}, {"contentBase64", b64("x")}});
        CHECK(r.status == 400);
        CHECK(r.json()["error"] == "Invalid filename");
    }
    CHECK(upload(d, {{"filename", std::string(255, 'n')}, {"contentBase64", b64("x")}}).status == 200);
    CHECK(upload(d, {{"contentBase64", b64("x")}}).json()["error"] == "Invalid filename");
    CHECK(upload(d, {{"filename", 3}, {"contentBase64", b64("x")}}).json()["error"] == "Invalid filename");
    for (const std::string& bad :
         std::vector<std::string>{"abc$", "a", "ab=c", "-_--", "data:text/plain,hello", "YQ===", "€"}) {
        auto r = upload(d, {{"filename", "bad.txt"}, {"contentBase64", bad}});
        CHECK(r.status == 400);
        CHECK(r.json()["error"] == "Invalid base64");
    }
    CHECK(upload(d, {{"filename", "bad.txt"}}).json()["error"] == "Invalid base64");
    CHECK(upload(d, {{"filename", "bad.txt"}, {"contentBase64", 12}}).json()["error"] == "Invalid base64");
    auto garbled = d.request("POST", d.api("/files/upload"), R"({"filename":"x.txt","contentBase64":)",
                             {{"Content-Type", "application/json"}});
    CHECK(garbled.status == 400);
    CHECK(garbled.json()["error"].get<std::string>().rfind("Invalid JSON", 0) == 0);
    CHECK(test::list_dir(d.workspace() + "/uploads") == std::vector<std::string>{std::string(255, 'n')});
}

TEST_CASE("upload: size limit on the decoded bytes and on the body") {
    gateway d({"--max-file-bytes", "1000"});
    CHECK(upload(d, {{"filename", "ok.bin"}, {"contentBase64", b64(std::string(1000, 'x'))}}).status == 200);
    auto over = upload(d, {{"filename", "over.bin"}, {"contentBase64", b64(std::string(1001, 'x'))}});
    CHECK(over.status == 413);
    CHECK(over.json()["error"] == "File too large");
    auto huge = upload(d, {{"filename", "huge.bin"}, {"contentBase64", b64(std::string(100000, 'x'))}});
    CHECK(huge.status == 413);
    CHECK(huge.json()["error"] == "File too large");
    CHECK(test::list_dir(d.workspace() + "/uploads") == std::vector<std::string>{"ok.bin"});
}

TEST_CASE("upload: concurrent uploads of one name never overwrite each other") {
    gateway d;
    std::vector<std::future<test::http_result>> runs;
    for (int i = 0; i < 12; ++i)
        runs.push_back(std::async(std::launch::async, [&, i] {
            return upload(d,
                          {{"filename", "same.txt"}, {"contentBase64", b64("content " + std::to_string(i))}});
        }));
    std::set<std::string> names, contents;
    for (auto& f : runs) {
        auto r = f.get();
        REQUIRE(r.status == 200);
        names.insert(r.json()["filename"].get<std::string>());
        contents.insert(test::read_file(r.json()["path"].get<std::string>()));
    }
    CHECK(names.size() == 12);
    CHECK(contents.size() == 12);
    CHECK(test::list_dir(d.workspace() + "/uploads").size() == 12);
}

TEST_CASE("upload: a 4 MiB upload through curl (Expect: 100-continue)") {
    gateway d;
    std::string data(4 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>((i * 7919) >> 3);
    std::string body = nlohmann::json{{"filename", "big.bin"}, {"contentBase64", b64(data)}}.dump();
    test::write_file(d.root() + "/body.json", body);
    // curl asks with Expect: 100-continue for a body this large. Without the daemon's 100 it would send the
    // body after its wait anyway, so the trace, not a clock, says whether the 100 came.
    std::string cmd = "curl -s -v --expect100-timeout 30 -o " + d.root() + "/resp.json -w '%{http_code}' " +
                      "-H 'Authorization: Bearer " + std::string(gateway::token) +
                      "' -H 'Content-Type: application/json' --data-binary @" + d.root() +
                      "/body.json http://127.0.0.1:" + std::to_string(d.port()) +
                      "/v0/agents/local/files/upload > " + d.root() + "/code.txt 2> " + d.root() +
                      "/trace.txt";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto trace = test::read_file(d.root() + "/trace.txt");
    CHECK(trace.find("> Expect: 100-continue") != std::string::npos);
    CHECK(trace.find("< HTTP/1.1 100 Continue") != std::string::npos);
    CHECK(test::read_file(d.root() + "/code.txt") == "200");
    CHECK(test::read_file(d.workspace() + "/uploads/big.bin") == data);
}

TEST_CASE("upload: uploads/ replaced by a symlink is never followed (409), nothing written outside") {
    gateway d;
    test::temp_dir outside;
    ::symlink(outside.path.c_str(), (d.workspace() + "/uploads").c_str());
    auto r = upload(d, {{"filename", "x.txt"}, {"contentBase64", b64("escaped")}});
    CHECK(r.status == 409);
    CHECK(r.json()["error"] == "Upload directory is not a directory");
    CHECK(test::list_dir(outside.path).empty());
    // A dangling link and a plain file in its place are refused the same way.
    ::unlink((d.workspace() + "/uploads").c_str());
    ::symlink((outside.path + "/missing").c_str(), (d.workspace() + "/uploads").c_str());
    CHECK(upload(d, {{"filename", "x.txt"}, {"contentBase64", b64("e")}}).status == 409);
    CHECK_FALSE(test::exists(outside.path + "/missing"));
    ::unlink((d.workspace() + "/uploads").c_str());
    test::write_file(d.workspace() + "/uploads", "a file");
    CHECK(upload(d, {{"filename", "x.txt"}, {"contentBase64", b64("e")}}).status == 409);
}

TEST_CASE("upload: a 255-byte name uploaded again is shortened before its extension, not refused") {
    gateway d;
    const std::string name = std::string(251, 'n') + ".txt";
    CHECK(upload(d, {{"filename", name}, {"contentBase64", b64("1")}}).json()["filename"] == name);
    auto again = upload(d, {{"filename", name}, {"contentBase64", b64("2")}});
    REQUIRE(again.status == 200);
    CHECK(again.json()["filename"] == std::string(249, 'n') + "-1.txt");
    CHECK(test::read_file(d.workspace() + "/uploads/" + std::string(249, 'n') + "-1.txt") == "2");
}
