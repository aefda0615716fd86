#include "util/text.hpp"
#include "util/time_format.hpp"

#include <doctest/doctest.h>

using namespace ag;

TEST_CASE("invalid UTF-8 becomes U+FFFD, valid text is untouched") {
    const std::string r = "\xEF\xBF\xBD";
    CHECK(text::to_valid_utf8("plain") == "plain");
    CHECK(text::to_valid_utf8("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80") ==
          "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80");
    CHECK(text::to_valid_utf8("a\xFF"
                              "b") == "a" + r + "b");
    CHECK(text::to_valid_utf8("\xC3") == r);                         // truncated
    CHECK(text::to_valid_utf8("\xE2\x9C") == r);                     // one maximal subpart
    CHECK(text::to_valid_utf8("\xC0\xAF") == r + r);                 // overlong
    CHECK(text::to_valid_utf8("\xED\xA0\x80") == r + r + r);         // surrogate
    CHECK(text::to_valid_utf8("\xF4\x90\x80\x80") == r + r + r + r); // beyond U+10FFFF
}

TEST_CASE("a UTF-8 prefix never ends inside a character") {
    const std::string euro = "\xE2\x82\xAC", smile = "\xF0\x9F\x98\x80";
    CHECK(text::utf8_prefix("short", 16) == "short");
    CHECK(text::utf8_prefix("exactly", 7) == "exactly");
    CHECK(text::utf8_prefix("ab" + euro, 2) == "ab");
    CHECK(text::utf8_prefix("ab" + euro, 3) == "ab");
    CHECK(text::utf8_prefix("ab" + euro, 4) == "ab");
    CHECK(text::utf8_prefix("ab" + euro + "c", 5) == "ab" + euro);
    CHECK(text::utf8_prefix(smile + smile, 7) == smile);
    CHECK(text::utf8_prefix(euro, 0).empty());
    // Stray continuation bytes were never one character: at most three are stepped back over.
    CHECK(text::utf8_prefix("a\x80\x80\x80\x80\x80", 5) == "a\x80");
}

TEST_CASE("form decoding and query parsing") {
    CHECK(text::form_decode("a+b%2Fc%20d") == "a b/c d");
    CHECK(text::form_decode("100%") == "100%");
    CHECK(text::form_decode("%zz") == "%zz");
    CHECK(text::percent_decode("/a+b%20c", false) == "/a+b c"); // paths keep their plus signs
    auto q = text::parse_query("path=workspace%2Fa+b.txt&flag&x=1&x=2");
    CHECK(*text::find_param(q, "path") == "workspace/a b.txt");
    CHECK(*text::find_param(q, "flag") == "");
    CHECK(*text::find_param(q, "x") == "1");
    CHECK_FALSE(text::find_param(q, "none"));
}

TEST_CASE("tokens are redacted from targets") {
    CHECK(text::redact_target("/v0/x?token=abc&y=1") == "/v0/x?token=REDACTED&y=1");
    CHECK(text::redact_target("/v0/x?y=1&%74oken=abc") == "/v0/x?y=1&token=REDACTED");
    CHECK(text::redact_target("/plain") == "/plain");
    // Other spellings of the key, other separators, and the token under any key at all.
    CHECK(text::redact_target("/v0/x?TOKEN=abc") == "/v0/x?token=REDACTED");
    CHECK(text::redact_target("/v0/x?token[]=abc&b=2") == "/v0/x?token=REDACTED&b=2");
    CHECK(text::redact_target("/v0/x?a=1;token=abc") == "/v0/x?a=1;token=REDACTED");
    CHECK(text::redact_target("/v0/x?q=my-secret&r=1", "my-secret") == "/v0/x?q=REDACTED&r=1");
    CHECK(text::redact_target("/v0/x?q=my%2Dsecret", "my-secret") == "/v0/x?q=REDACTED");
    CHECK(text::redact_target("/v0/my-secret/y", "my-secret") == "/v0/REDACTED/y");
    // A token that is part of the word REDACTED itself: replaced once, not forever (this hung the daemon).
    CHECK(text::redact_target("/app/Tx?a=1", "T") == "/app/REDACTEDx?a=1");
    CHECK(text::redact_target("/a?token=T", "T") == "/a?token=REDACTED");
}

TEST_CASE("timestamps") {
    using namespace std::chrono;
    system_clock::time_point t{milliseconds(1796040000123)};
    CHECK(time_format::iso8601_ms(t) == "2026-11-30T12:00:00.123Z");
    CHECK(time_format::http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
}
