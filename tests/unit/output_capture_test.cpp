#include "engine/output_capture.hpp"

#include <doctest/doctest.h>

using ag::engine::output_capture;

TEST_CASE("output under the limit is kept whole") {
    output_capture c(100);
    c.append("hello ");
    c.append("world");
    CHECK_FALSE(c.truncated());
    CHECK(c.text() == "hello world");
}

TEST_CASE("output over the limit keeps head and tail with the omitted count") {
    output_capture c(10);
    std::string all;
    for (int i = 0; i < 1000; ++i) {
        std::string piece(1, static_cast<char>('a' + i % 26));
        c.append(piece);
        all += piece;
    }
    CHECK(c.truncated());
    CHECK(c.total_bytes() == 1000);
    CHECK(c.text() == all.substr(0, 5) + "\n\u2026[990 bytes omitted]\u2026\n" + all.substr(995));

    output_capture big(10);
    big.append(std::string(5, 'h') + std::string(100, 'm') + std::string(5, 't'));
    CHECK(big.text() == "hhhhh\n\u2026[100 bytes omitted]\u2026\nttttt");
}

TEST_CASE("the cut never splits a character") {
    output_capture c(6);
    c.append("ab\xE2\x9C\x93"
             "0123456789"
             "\xE2\x9C\x93"
             "yz"); // ✓ straddles both cuts
    auto t = c.text();
    CHECK(t.find("\xEF\xBF\xBD") == std::string::npos);
    CHECK(t.rfind("ab", 0) == 0);
    CHECK(t.substr(t.size() - 2) == "yz");
}
