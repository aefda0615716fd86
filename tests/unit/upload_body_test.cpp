#include "handlers/upload_body.hpp"

#include "gateway/errors.hpp"

#include <doctest/doctest.h>

using namespace ag;

TEST_CASE("upload bodies: fast path and full parser agree") {
    auto f = parse_upload_body(R"({"filename":"a.txt","contentBase64":"aGk="})");
    CHECK(*f.filename == "a.txt");
    CHECK(*f.content == "aGk=");
    auto spaced = parse_upload_body(" {\n \"contentBase64\" : \"aGk=\" , \"filename\" : \"a.txt\" }\n");
    CHECK(*spaced.filename == "a.txt");
    CHECK(*spaced.content == "aGk=");
    auto escaped = parse_upload_body(R"({"filename":"a\"b.txt","contentBase64":"\/w=="})");
    CHECK(*escaped.filename == "a\"b.txt");
    CHECK(*escaped.content == "/w==");
    auto other = parse_upload_body(R"({"filename":"a","contentBase64":"x","extra":[1,{"k":null}]})");
    CHECK(*other.filename == "a");
    auto wrong_types = parse_upload_body(R"({"filename":1,"contentBase64":null})");
    CHECK_FALSE(wrong_types.filename);
    CHECK_FALSE(wrong_types.content);
    CHECK_FALSE(parse_upload_body("").filename);
}

TEST_CASE("upload bodies: malformed JSON is a 400") {
    for (const std::string& bad : std::vector<std::string>{"{", R"({"filename":"a")", "[]", R"({"filename":"a"} x)", "{\"filename\":\"a\nb\"}",
                            "{\"filename\":\"\xFF\"}"}) {
        try {
            parse_upload_body(bad);
            FAIL("accepted: " << bad);
        } catch (const api_error& e) {
            CHECK(e.kind == error_kind::bad_request);
            CHECK(std::string(e.what()).rfind("Invalid JSON", 0) == 0);
        }
    }
}
