#include "util/base64.hpp"

#include <doctest/doctest.h>

using namespace ag;

TEST_CASE("base64 round trips every length") {
    std::string data;
    for (int n = 0; n < 300; ++n) {
        std::string out;
        REQUIRE(base64::decode(base64::encode(data), out));
        CHECK(out == data);
        data += static_cast<char>(n * 37);
    }
}

TEST_CASE("base64 RFC 4648 vectors, whitespace, padding") {
    std::string out;
    CHECK((base64::decode("Zm9vYmFy", out) && out == "foobar"));
    CHECK((base64::decode("Zm9vYg==", out) && out == "foob"));
    CHECK((base64::decode("Zm9vYg", out) && out == "foob"));
    CHECK((base64::decode("Zm9v\r\nYmE=", out) && out == "fooba"));
    CHECK((base64::decode(" Zm 9v ", out) && out == "foo"));
    CHECK((base64::decode("", out) && out.empty()));
    CHECK(base64::encode("fo") == "Zm8=");
    CHECK_FALSE(base64::decode("Zm9v!", out));
    CHECK_FALSE(base64::decode("Z", out));
    CHECK_FALSE(base64::decode("Zm=v", out));
    CHECK_FALSE(base64::decode("Zg===", out));
    CHECK_FALSE(base64::decode("=", out));
    CHECK_FALSE(base64::decode("Zm9v-_", out));
}
