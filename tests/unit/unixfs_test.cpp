// UnixFS and CIDs against published vectors and the design note's fixture (CIDs Kubo and ipfs-unixfs-importer
// agree on). Random trees against ipfs-unixfs-importer itself are in tests/snapshots/.
#include "snapshots/cid.hpp"
#include "snapshots/unixfs.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

using namespace ag::snapshots;

namespace {

struct memory_sink : block_sink {
    std::map<std::string, std::string> blocks;
    void put(const cid& id, std::string_view block) override { blocks[id.to_string()] = std::string(block); }
};

std::string pattern(std::size_t n) { // byte[i] = i % 251, as the fixture's big.bin
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>(i % 251);
    return s;
}

std::string file_cid(int version, const std::string& content) {
    memory_sink sink;
    unixfs_builder b(version, sink);
    return b.file(content).id.to_string();
}

} // namespace

TEST_CASE("CIDs: base58btc v0, base32 v1, parsing only canonical text") {
    auto c = cid_of(0, codec::dag_pb, std::string("\x0a\x02\x08\x01", 4));
    CHECK(c.to_string() == "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");
    auto v1 = c;
    v1.version = 1;
    CHECK(v1.to_string() == "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");
    CHECK(cid::parse(c.to_string()) == c);
    CHECK(cid::parse(v1.to_string()) == v1);
    CHECK(cid::parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")->kind == codec::raw);
    CHECK_FALSE(cid::parse(""));
    CHECK_FALSE(cid::parse("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3N0")); // 0 is not base58
    CHECK_FALSE(cid::parse("BAFYBEICZSSCDSBS7FFQZ55ASQDF3SMV6KLCW3GOFSZVWLYARCI47BGF354"));
    CHECK_FALSE(cid::parse("bafyaabakaieac")); // identity hashes are not snapshots
    CHECK_FALSE(cid::parse("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn "));
    std::string v;
    append_varint(v, 300);
    CHECK(v == "\xac\x02");
}

TEST_CASE("UnixFS files: empty, one chunk, chunk boundaries, two levels (v0 dag-pb leaves, v1 raw leaves)") {
    CHECK(file_cid(0, "") == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
    CHECK(file_cid(1, "") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
    CHECK(file_cid(0, "hello world\n") == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    CHECK(file_cid(1, "hello world\n") == "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
    CHECK(file_cid(0, "hello world") == "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD");
    CHECK(file_cid(1, "hello world") == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    CHECK(file_cid(0, pattern(262144)) == "QmeqfRyS3vkku7n6krqC3DgGMex3x2sCpSeKMDmrG13QQq");
    CHECK(file_cid(1, pattern(262144)) == "bafkreibruh455iawsviqslif5c7uurdcfdemh22mtnytyzvnzn75kpejxy");
    CHECK(file_cid(0, pattern(262145)) == "QmUSjGawaz4ptvREcMKSMJneWCa5j8dAz2wSAAvHtW2rnB");
    CHECK(file_cid(1, pattern(262145)) == "bafybeiexg2oqkfnj56l7fcmawswqbijt5shq4b5rg6a546uwpkqqzwjioi");
    CHECK(file_cid(0, pattern(600000)) == "QmWKdZuiD9zqoZFnLYbpV2Q5YhRCJWpqiVeYA8ygYEjcEe");
    CHECK(file_cid(1, pattern(600000)) == "bafybeicp64het67shnhxiyl3sg5mylxqop6pnqsqpfecb6pmni2ghoxzom");
    // 175 chunks: a root with two children, the second holding one leaf.
    const std::string multilevel = pattern(174 * 262144 + 1);
    CHECK(file_cid(0, multilevel) == "QmTedsTekQQkgACJXb1sPZSW8bLdS9LPMrT7L4YdjNRd4n");
    CHECK(file_cid(1, multilevel) == "bafybeib4y7ghw2rq7bracc4xwtxrbzo7cfvagdpte2tmrkgwl6dyard3cm");
}

TEST_CASE("UnixFS directories and symlinks: the design note's fixture, hidden files and a link") {
    for (int version : {0, 1}) {
        CAPTURE(version);
        memory_sink sink;
        unixfs_builder b(version, sink);
        node deep = b.directory({{"deep.txt", b.file("deep\n")}});
        node sub = b.directory({{"nested.txt", b.file("nested file\n")}, {"deeper", deep}});
        node root = b.directory({{"hello.txt", b.file("hello world\n")},
                                 {"empty.txt", b.file("")},
                                 {"big.bin", b.file(pattern(600000))},
                                 {"sub", sub},
                                 {"emptydir", b.directory({})}});
        CHECK(root.id.to_string() == (version == 0
                                          ? "QmddW7VPXGiTHKfwPTGu2kF2XP9EzKJyUZPWrfFpYMmUgw"
                                          : "bafybeif6zwo2lgf2qb5xcuucycrzkrifkxwspvkn4n3wqir2wi27f6h5j4"));
        CHECK(root.tsize == (version == 0 ? 600668u : 600618u));
        CHECK(sink.blocks.size() == 12);

        CHECK(b.symlink("hello.txt").id.to_string() ==
              (version == 0 ? "QmPYf1QFHozJBBDAws6mzy3kzMPmtSuSc4iCwJS5GMYaSK"
                            : "bafybeiar537gtgwbfdxiqzybddgre3qnehtxmegnc573cpzs3lza53a4la"));
        node with_link = b.directory({{"hello.txt", b.file("hello world\n")},
                                      {".hidden", b.file("secret\n")},
                                      {"link", b.symlink("hello.txt")}});
        CHECK(with_link.id.to_string() ==
              (version == 0 ? "Qmdr46YzWzug6df5aQnMw7VdmQJimVG9HBF4bwg6Z6yV9W"
                            : "bafybeiedawzjczzk6zltlfvrh35axwhsxnqgvxb75vejzwbgffxywgwtbi"));
    }
}

TEST_CASE("UnixFS: byte-wise name order (uppercase first) and every block named by its hash") {
    memory_sink sink;
    unixfs_builder b(0, sink);
    node one = b.directory({{"a", b.file("x")}, {"B", b.file("y")}});
    node two = b.directory({{"B", b.file("y")}, {"a", b.file("x")}});
    CHECK(one.id == two.id);
    for (const auto& [name, block] : sink.blocks)
        CHECK(cid_of(0, codec::dag_pb, block).to_string() == name);
}
