#include "auth/client_address.hpp"
#include "auth/credentials.hpp"
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

using namespace ag::auth;

TEST_CASE("token_store compares exactly, whatever the length") {
    auto t = token_store::fixed("  secret-token\n");
    CHECK(t.check("secret-token"));
    CHECK_FALSE(t.check("secret-toke"));
    CHECK_FALSE(t.check("secret-token "));
    CHECK_FALSE(t.check(""));
    CHECK_FALSE(t.check(std::string(10000, 's')));
    CHECK(t.current() == "secret-token");
}

TEST_CASE("token_store follows its file and keeps the token when the file is empty") {
    char path[] = "/tmp/agw-token-XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path) << "one\n";
    auto t = token_store::from_file(path);
    auto gen = t.generation();
    CHECK(t.check("one"));
    std::ofstream(path) << "two-longer\n";
    CHECK(t.reload(true));
    CHECK(t.check("two-longer"));
    CHECK_FALSE(t.check("one"));
    CHECK(t.generation() == gen + 1);
    std::ofstream(path) << "";
    CHECK_FALSE(t.reload(true));
    CHECK(t.check("two-longer"));
    CHECK_FALSE(t.reload()); // unchanged stamp: nothing to do
    std::remove(path);
}

TEST_CASE("credentials: every carrier is offered") {
    ag::text::query_params q{{"token", "from-query"}};
    auto all = offered_tokens("Bearer from-bearer", "x=1; gw_token=from-cookie", q);
    REQUIRE(all.size() == 3);
    CHECK(all[0].from == carrier::bearer);
    CHECK(all[0].token == "from-bearer");
    CHECK(all[1].from == carrier::query);
    CHECK(all[2].token == "from-cookie");

    // Basic: user ignored, password is the token; "eDpzZWNyZXQ=" is "x:secret".
    auto basic = offered_tokens("Basic eDpzZWNyZXQ=", "", {});
    REQUIRE(basic.size() == 1);
    CHECK(basic[0].token == "secret");
    CHECK(offered_tokens("Basic !!!", "", {}).empty());
    CHECK(offered_tokens("Basic eA==", "", {}).empty()); // "x", no password
    CHECK(offered_tokens("Token abc", "", {}).empty());
    CHECK(offered_tokens("", "gw_token=", {}).empty());
}

TEST_CASE("cookies: find and strip") {
    CHECK(*find_cookie("a=1; gw_token=\"q\"; b=2", "gw_token") == "q");
    CHECK_FALSE(find_cookie("a=1", "gw_token"));
    CHECK(strip_cookie("a=1; gw_token=x; b=2", "gw_token") == "a=1; b=2");
    CHECK(strip_cookie("gw_token=x", "gw_token").empty());
}

TEST_CASE("failure_limiter blocks after N failures in the window, then forgets") {
    using clock = failure_limiter::clock;
    failure_limiter f(3, std::chrono::seconds(60));
    auto t0 = clock::now();
    CHECK_FALSE(f.blocked("a", t0));
    f.record_failure("a", t0);
    f.record_failure("a", t0 + std::chrono::seconds(10));
    CHECK_FALSE(f.blocked("a", t0 + std::chrono::seconds(11)));
    f.record_failure("a", t0 + std::chrono::seconds(20));
    auto wait = f.blocked("a", t0 + std::chrono::seconds(21));
    REQUIRE(wait);
    CHECK(wait->count() == 39);
    CHECK_FALSE(f.blocked("b", t0 + std::chrono::seconds(21)));
    CHECK_FALSE(f.blocked("a", t0 + std::chrono::seconds(61))); // the first failure left the window
}

TEST_CASE("failure_limiter stays bounded under an address flood") {
    failure_limiter f(20, std::chrono::seconds(60), 100);
    auto t = failure_limiter::clock::now();
    for (int i = 0; i < 10000; ++i) {
        f.record_failure("addr" + std::to_string(i), t);
        REQUIRE(f.tracked() <= 100);
    }
    for (int i = 0; i < 20; ++i)
        f.record_failure("attacker", t);
    CHECK(f.blocked("attacker", t));
    CHECK(f.tracked() <= 100);
}

TEST_CASE("client address: the peer, unless a trusted proxy names the client in X-Forwarded-For") {
    std::vector<cidr> trusted{*parse_cidr("10.0.0.0/8"), *parse_cidr("::1")};
    CHECK(client_address("192.0.2.1", "203.0.113.7", trusted) == "192.0.2.1"); // not a proxy of ours
    CHECK(client_address("10.1.2.3", "203.0.113.7", trusted) == "203.0.113.7");
    // Read from the right: hops added by trusted proxies are skipped, what the client wrote is not believed.
    CHECK(client_address("10.1.2.3", "1.1.1.1, 203.0.113.7, 10.9.9.9", trusted) == "203.0.113.7");
    CHECK(client_address("::1", "2001:db8::5", trusted) == "2001:db8::5");
    CHECK(client_address("10.1.2.3", "", trusted) == "10.1.2.3");
    CHECK(client_address("10.1.2.3", "unknown", trusted) == "10.1.2.3");
    CHECK(client_address("10.1.2.3", "203.0.113.7", {}) == "10.1.2.3");
    CHECK(parse_cidr("10.0.0.0/8")->contains("10.255.0.1"));
    CHECK_FALSE(parse_cidr("10.0.0.0/8")->contains("11.0.0.1"));
    CHECK(parse_cidr("10.0.0.0/8")->contains("::ffff:10.0.0.1"));
    CHECK(parse_cidr("fd00::/8")->contains("fdab::1"));
    CHECK(parse_cidr("0.0.0.0/0")->contains("8.8.8.8"));
    CHECK_FALSE(parse_cidr("10.0.0.0/33"));
    CHECK_FALSE(parse_cidr("example.com"));
    CHECK_FALSE(parse_cidr("10.0.0.0/"));
}
