#include "handlers/upload_body.hpp"

#include "gateway/errors.hpp"

#include <doctest/doctest.h>

using namespace ag;

TEST_CASE("upload bodies: fast path and full parser agree") {
    const std::string plain = R"({"filename":"a.txt","contentBase64":"aGk="})";
    auto f = parse_upload_body(plain);
    CHECK(*f.filename == "a.txt");
    CHECK(*f.content() == "aGk=");
    CHECK(f.content()->data() > plain.data()); // a view into the body, not a copy
    const std::string spaced_body = " {\n \"contentBase64\" : \"aGk=\" , \"filename\" : \"a.txt\" }\n";
    auto spaced = parse_upload_body(spaced_body);
    CHECK(*spaced.filename == "a.txt");
    CHECK(*spaced.content() == "aGk=");
    const std::string escaped_body = R"({"filename":"a\"b.txt","contentBase64":"\/w=="})";
    auto escaped = parse_upload_body(escaped_body);
    CHECK(*escaped.filename == "a\"b.txt");
    auto moved = std::move(escaped); // a short unescaped copy must survive a move (SSO)
    CHECK(*moved.content() == "/w==");
    const std::string other_body = R"({"filename":"a","contentBase64":"x","extra":[1,{"k":null}]})";
    CHECK(*parse_upload_body(other_body).filename == "a");
    const std::string wrong = R"({"filename":1,"contentBase64":null})";
    auto wrong_types = parse_upload_body(wrong);
    CHECK_FALSE(wrong_types.filename);
    CHECK_FALSE(wrong_types.content());
    const std::string empty;
    CHECK_FALSE(parse_upload_body(empty).filename);
}

TEST_CASE("upload bodies: malformed JSON is a 400") {
    for (const std::string& bad :
         std::vector<std::string>{"{", R"({"filename":"a")", "[]", R"({"filename":"a"} x)",
                                  "{\"filename\":\"a\nb\"}", "{\"filename\":\"\xFF\"}"}) {
        try {
            parse_upload_body(bad);
            FAIL("accepted: " << bad);
        } catch (const api_error& e) {
            CHECK(e.kind == error_kind::bad_request);
            CHECK(std::string(e.what()).rfind("Invalid JSON", 0) == 0);
        }
    }
}
