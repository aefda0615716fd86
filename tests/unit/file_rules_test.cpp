#include "handlers/file_rules.hpp"

#include <doctest/doctest.h>

using namespace ag::file_rules;

TEST_CASE("content types by extension") {
    CHECK(content_type_for("a/b/README.md") == "text/markdown; charset=utf-8");
    CHECK(content_type_for("x.JSON") == "application/json; charset=utf-8");
    CHECK(content_type_for("photo.png") == "image/png");
    CHECK(content_type_for(".bashrc") == "application/octet-stream");
    CHECK(content_type_for("noext") == "application/octet-stream");
    CHECK(content_type_for("dir.d/file") == "application/octet-stream");
}

TEST_CASE("ranges") {
    auto r = parse_range("bytes=0-99", 1000);
    CHECK(r.status == range_status::ok);
    CHECK(r.range.first == 0);
    CHECK(r.range.length == 100);
    r = parse_range("bytes=990-2000", 1000);
    CHECK(r.range.length == 10);
    r = parse_range("bytes=-5", 1000);
    CHECK((r.range.first == 995 && r.range.length == 5));
    r = parse_range("bytes=-5000", 1000);
    CHECK((r.range.first == 0 && r.range.length == 1000));
    CHECK(parse_range("bytes=500-", 1000).range.length == 500);
    CHECK(parse_range("bytes=1000-", 1000).status == range_status::unsatisfiable);
    CHECK(parse_range("bytes=-0", 1000).status == range_status::unsatisfiable);
    CHECK(parse_range("bytes=0-", 0).status == range_status::unsatisfiable);
    CHECK(parse_range("bytes=0-1,3-4", 1000).status == range_status::multiple);
    CHECK(parse_range("", 1000).status == range_status::none);
    CHECK(parse_range("items=0-1", 1000).status == range_status::none);
    CHECK(parse_range("bytes=5-2", 1000).status == range_status::none);
    CHECK(parse_range("bytes=x-2", 1000).status == range_status::none);
    CHECK(parse_range("bytes=0-99999999999999999999999", 1000).status == range_status::none);
}

TEST_CASE("etags") {
    auto e = etag_for(10, 20, 30);
    CHECK(e == "W/\"a-14-1e\"");
    CHECK(etag_matches(e, e));
    CHECK(etag_matches("\"a-14-1e\"", e));
    CHECK(etag_matches("\"x\", W/\"a-14-1e\"", e));
    CHECK(etag_matches("*", e));
    CHECK_FALSE(etag_matches("\"a-14-1f\"", e));
}

TEST_CASE("upload names") {
    CHECK(valid_upload_name("report.pdf"));
    CHECK(valid_upload_name(std::string(255, 'x')));
    CHECK_FALSE(valid_upload_name(std::string(256, 'x')));
    CHECK_FALSE(valid_upload_name(""));
    CHECK_FALSE(valid_upload_name("."));
    CHECK_FALSE(valid_upload_name(".."));
    CHECK(valid_upload_name("..."));
    CHECK_FALSE(valid_upload_name("a/b"));
    CHECK_FALSE(valid_upload_name("a\\b"));
    CHECK_FALSE(valid_upload_name(std::string("a\0b", 3)));
    CHECK(numbered_name("report.pdf", 0) == "report.pdf");
    CHECK(numbered_name("report.pdf", 2) == "report-2.pdf");
    CHECK(numbered_name("archive.tar.gz", 1) == "archive.tar-1.gz");
    CHECK(numbered_name(".env", 1) == ".env-1");
    CHECK(numbered_name("Makefile", 3) == "Makefile-3");
    // 255 bytes already: the stem gives way, the extension stays, the result is 255 bytes.
    const std::string longest = std::string(251, 'a') + ".pdf";
    CHECK(numbered_name(longest, 1) == std::string(249, 'a') + "-1.pdf");
    CHECK(numbered_name(longest, 12).size() == 255);
    CHECK(numbered_name(std::string(255, 'b'), 1) == std::string(253, 'b') + "-1");
    // Cut on a character boundary: no half of a two-byte character.
    const std::string wide = std::string(1, 'x') + [] {
        std::string s;
        for (int i = 0; i < 127; ++i)
            s += "\xc3\xa9";
        return s;
    }();
    CHECK(wide.size() == 255);
    auto cut = numbered_name(wide, 1);
    CHECK(cut.size() <= 255);
    CHECK(cut.ends_with("\xc3\xa9-1"));
}

TEST_CASE("data: URLs") {
    CHECK(*strip_data_url("data:image/png;base64,AAAA") == "AAAA");
    CHECK(*strip_data_url("data:;base64,AAAA") == "AAAA");
    CHECK(*strip_data_url("AAAA") == "AAAA");
    CHECK_FALSE(strip_data_url("data:text/plain,hello"));
    CHECK_FALSE(strip_data_url("data:nocomma"));
}
