// docs/api.md §4: token carriers, cookie, failures, 429, rotation, redaction.
#include "support/engine_helpers.hpp"
#include "support/gateway.hpp"

#include <boost/beast/core/detail/base64.hpp>
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>

#include <thread>

using test::gateway;

namespace {
std::string basic(const std::string& user, const std::string& password) {
    std::string in = user + ":" + password;
    std::string out(boost::beast::detail::base64::encoded_size(in.size()), '\0');
    out.resize(boost::beast::detail::base64::encode(out.data(), in.data(), in.size()));
    return "Basic " + out;
}
} // namespace

TEST_CASE("every token carrier is accepted") {
    gateway d;
    std::string t = gateway::token;
    CHECK(d.request("GET", d.api(""), {}, {{"Authorization", "Bearer " + t}}, false).status == 200);
    CHECK(d.request("GET", d.api(""), {}, {{"Authorization", "bearer " + t}}, false).status == 200);
    CHECK(d.request("GET", d.api(""), {}, {{"Cookie", "a=1; gw_token=" + t + "; b=2"}}, false).status == 200);
    CHECK(d.request("GET", d.api(""), {}, {{"Authorization", basic("anyone", t)}}, false).status == 200);
    CHECK(
        d.request("GET", d.api("/files") + "?path=.", {}, {{"Authorization", basic("", t)}}, false).status ==
        200);

    // ?token= logs the browser in: the cookie is set, without Secure on plain HTTP.
    auto q = d.request("GET", d.api("") + "?token=" + t, {}, {}, false);
    CHECK(q.status == 200);
    CHECK(q.header("set-cookie") == "gw_token=" + t + "; Path=/; HttpOnly; SameSite=Lax");
    auto fwd = d.request("GET", d.api("") + "?token=" + t, {}, {{"X-Forwarded-Proto", "https"}}, false);
    CHECK(fwd.header("set-cookie") == "gw_token=" + t + "; Path=/; HttpOnly; SameSite=Lax; Secure");
    // Other carriers set no cookie.
    CHECK(d.get(d.api("")).header("set-cookie").empty());

    // An app's own Authorization header does not hide our cookie.
    CHECK(d.request("GET", d.api(""), {},
                    {{"Authorization", "Bearer app-token"}, {"Cookie", "gw_token=" + t}}, false)
              .status == 200);
}

TEST_CASE("wrong tokens: 401, git paths ask for Basic, 429 after 20 failures") {
    gateway d;
    auto wrong = d.request("GET", d.api(""), {}, {{"Authorization", "Bearer nope"}}, false);
    CHECK(wrong.status == 401);
    CHECK(wrong.json()["error"] == "Unauthorized");
    auto git = d.request("GET", d.api("/git/info/refs?service=git-upload-pack"), {}, {}, false);
    CHECK(git.status == 401);
    CHECK(git.header("www-authenticate") == "Basic realm=\"agent-gateway\"");

    // Requests without credentials never count (git asks without them first, every time).
    for (int i = 0; i < 30; ++i)
        REQUIRE(d.request("GET", d.api(""), {}, {}, false).status == 401);
    // One failure already happened above; 19 more reach the limit.
    for (int i = 0; i < 19; ++i)
        REQUIRE(d.request("GET", d.api("") + "?token=bad" + std::to_string(i), {}, {}, false).status == 401);
    auto limited = d.request("GET", d.api(""), {}, {{"Authorization", "Bearer bad"}}, false);
    CHECK(limited.status == 429);
    CHECK(limited.json().contains("error"));
    int retry = std::stoi(limited.header("retry-after"));
    CHECK(retry >= 50);
    CHECK(retry <= 60);
    // While a guesser is blocked, the right token still works: behind an edge proxy the owner shares the
    // guesser's address.
    CHECK(d.get(d.api("")).status == 200);
    CHECK(d.request("GET", d.api(""), {}, {{"Authorization", "Bearer bad-again"}}, false).status == 429);
    // No credentials: still a plain 401.
    CHECK(d.request("GET", d.api(""), {}, {}, false).status == 401);
    CHECK(d.request("GET", "/healthz", {}, {}, false).status == 200);
}

TEST_CASE("token file rotation within 2 s, and at once on SIGHUP") {
    test::temp_dir root;
    test::write_file(root / "token", "first-token\n");
    gateway d({"--token-file", root / "token"}, root.path);
    auto with = [&](const std::string& t) {
        return d.request("GET", d.api(""), {}, {{"Authorization", "Bearer " + t}}, false).status;
    };
    CHECK(with("first-token") == 200);

    test::write_file(root / "token.new", "  second-token \n");
    ::rename((root / "token.new").c_str(), (root / "token").c_str());
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
    // Poll gently: every wrong try counts toward the 429 limit of 20 per minute.
    while (with("second-token") != 200 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    CHECK(with("second-token") == 200);
    CHECK(with("first-token") == 401);

    // SIGHUP: no waiting for the poll (every 500 ms): the new token is taken within 400 ms. (The right
    // token is always accepted, so the failed tries of the wait cannot lock it out.)
    test::write_file(root / "token", "third-token");
    ::kill(d.pid(), SIGHUP);
    CHECK(test::wait_until([&] { return with("third-token") == 200; }, std::chrono::milliseconds(400)));

    // An empty file (a writer mid-way) keeps the current token: the daemon says so, and it still works.
    auto warnings = [&] {
        std::size_t n = 0;
        for (auto at = d.log().find("is empty or unreadable"); at != std::string::npos;
             at = d.log().find("is empty or unreadable", at + 1))
            ++n;
        return n;
    };
    const auto before = warnings();
    test::write_file(root / "token", "");
    ::kill(d.pid(), SIGHUP);
    CHECK(test::wait_until([&] { return warnings() > before; }, std::chrono::seconds(5)));
    CHECK(with("third-token") == 200);
}

TEST_CASE("the token never reaches the log") {
    gateway d({"--log-level", "debug"});
    std::string t = gateway::token;
    d.request("GET", d.api("") + "?token=" + t + "&x=1", {}, {}, false);
    d.request("GET", d.api("/files") + "?path=.&token=" + t, {}, {}, false);
    d.request("GET", d.api("") + "?token=wrong-guess", {}, {}, false);
    d.request("GET", d.api(""), {}, {{"Authorization", "Bearer " + t}}, false);
    std::string log = d.log();
    CHECK(log.find("token=REDACTED") != std::string::npos);
    CHECK(log.find(t) == std::string::npos);
    CHECK(log.find("wrong-guess") == std::string::npos);
}

TEST_CASE("no token configured: one is generated (0600), printed once with the URL, and reused") {
    test::temp_dir root;
    std::string token;
    {
        gateway d({"--no-token"}, root.path);
        auto file = root / ".agent-gateway/gateway-token";
        REQUIRE(test::exists(file));
        struct stat st {};
        ::stat(file.c_str(), &st);
        CHECK((st.st_mode & 0777) == 0600);
        token = test::read_file(file);
        while (!token.empty() && token.back() == '\n')
            token.pop_back();
        CHECK(token.size() == 64);
        // Printed on stdout just after the log's "listening on", which is all the start waits for.
        const std::string url = "/v0/agents/local/ui/?token=" + token; // opens the console page
        CHECK(test::wait_until([&] { return d.out().find(url) != std::string::npos; }));
        CHECK(d.log().find(token) == std::string::npos);
        CHECK(d.request("GET", d.api(""), {}, {{"Authorization", "Bearer " + token}}, false).status == 200);
        CHECK(d.stop() == 0);
    }
    gateway again({"--no-token"}, root.path);
    CHECK(again.request("GET", again.api(""), {}, {{"Authorization", "Bearer " + token}}, false).status ==
          200);
}
