// pkt-line framing, request-body inflating and the manifest check a push must pass (CONTRACT §13).
#include "engine/manifest.hpp"
#include "git/libgit2.hpp"
#include "git/pkt_line.hpp"
#include "util/gunzip.hpp"

#include "support/gzip.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace ag;

namespace {} // namespace

TEST_CASE("pkt-lines: lengths in lowercase hex include the header; flush is 0000") {
    std::string out;
    git::append_pkt(out, "# service=git-upload-pack\n");
    CHECK(out == "001e# service=git-upload-pack\n");
    out.clear();
    git::append_pkt(out, std::string(65516, 'x'));
    CHECK(out.substr(0, 4) == "fff0");

    git::pkt_reader in(std::string_view("0009done\n0000000bhave x\n"));
    auto p = in.next();
    CHECK(p.kind == git::pkt_reader::pkt::data);
    CHECK(p.payload == "done"); // the LF is not part of the line
    CHECK(in.next().kind == git::pkt_reader::pkt::flush);
    CHECK(in.next().payload == "have x");
    CHECK(in.next().kind == git::pkt_reader::pkt::end);

    git::pkt_reader truncated(std::string_view("0010short"));
    CHECK_THROWS_AS(truncated.next(), git::error);
    git::pkt_reader bad(std::string_view("00zzxxxx"));
    CHECK_THROWS_AS(bad.next(), git::error);
    git::pkt_reader three(std::string_view("0003"));
    CHECK_THROWS_AS(three.next(), git::error);
}

TEST_CASE("side-band: data is split into pkts of at most 65515 bytes after the band byte") {
    std::string out;
    git::append_band(out, 1, std::string(65515 + 10, 'p'));
    REQUIRE(out.size() == 4 + 1 + 65515 + 4 + 1 + 10);
    CHECK(out.substr(0, 5) == std::string("fff0\1"));
    CHECK(out.substr(4 + 1 + 65515, 5) == std::string("000f\1"));
    out.clear();
    git::append_band(out, 2, "Counting\r");
    CHECK(out == std::string("000e\2Counting\r"));
}

TEST_CASE("gunzip: any split of the input, a cap on the output, corrupt input refused") {
    std::string plain;
    for (int i = 0; i < 5000; ++i)
        plain += "have 0123456789abcdef0123456789abcdef01234567\n";
    std::string packed = test::gzip(plain);
    for (std::size_t step : {std::size_t(1), std::size_t(7), std::size_t(4096), packed.size()}) {
        gunzip g(1 << 20);
        std::string out;
        for (std::size_t i = 0; i < packed.size(); i += step)
            g.feed(std::string_view(packed).substr(i, step), out);
        CHECK(out == plain);
        CHECK(g.finished());
    }
    gunzip small(1000);
    std::string out;
    CHECK_THROWS_AS(small.feed(packed, out), std::length_error);
    gunzip corrupt(1 << 20);
    std::string broken = packed;
    broken[broken.size() / 2] ^= 0x55;
    broken[broken.size() / 2 + 1] ^= 0x55;
    bool refused = false;
    try {
        corrupt.feed(broken, out);
    } catch (const std::runtime_error&) {
        refused = true;
    }
    CHECK((refused || !corrupt.finished())); // the caller answers 400 either way
}

TEST_CASE("a manifest a push may check out: JSON object with version 1") {
    CHECK(engine::manifest_problem(R"({"version":1,"scripts":{"build":"make"}})").empty());
    CHECK(engine::manifest_problem("{\"version\": 1").starts_with("not valid JSON (line 1"));
    CHECK(engine::manifest_problem("[1]") == "not a JSON object");
    CHECK(engine::manifest_problem("{}") == "\"version\" is missing (must be 1)");
    CHECK(engine::manifest_problem(R"({"version":"1"})") == "\"version\" must be 1, not \"1\"");
    CHECK(engine::manifest_problem(R"({"version":2})") == "\"version\" must be 1, not 2");
}

TEST_CASE("object ids: exactly 40 lowercase hex digits") {
    git_oid id;
    CHECK(git::parse_oid("0123456789abcdef0123456789abcdef01234567", id));
    CHECK(git::to_hex(id) == "0123456789abcdef0123456789abcdef01234567");
    CHECK_FALSE(git::parse_oid("0123456789ABCDEF0123456789abcdef01234567", id));
    CHECK_FALSE(git::parse_oid("0123456789abcdef0123456789abcdef0123456", id));
    CHECK_FALSE(git::parse_oid("0123456789abcdef0123456789abcdef0123456g", id));
}
