// docs/api.md §18: the pure pieces of background processes: the on-disk output log, the restart decision and
// the NDJSON lines.
#include "engine/output_log.hpp"
#include "engine/processes.hpp"
#include "handlers/output_lines.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <string>

using namespace ag;

TEST_CASE("output log: offsets across streams, reads from an offset, joined pieces") {
    test::temp_dir dir;
    engine::output_log log(dir / "p", 1024);
    log.append(0, "hello ");
    log.append(0, "world\n");
    log.append(1, "oops\n");
    CHECK(log.start() == 0);
    CHECK(log.end() == 17);
    auto all = log.read(0, 1 << 20);
    CHECK(!all.gap_to);
    REQUIRE(all.chunks.size() == 2);
    CHECK(all.chunks[0].offset == 0);
    CHECK(all.chunks[0].stream == 0);
    CHECK(all.chunks[0].data == "hello world\n");
    CHECK(all.chunks[1].offset == 12);
    CHECK(all.chunks[1].stream == 1);
    CHECK(all.chunks[1].data == "oops\n");
    auto mid = log.read(8, 5);
    REQUIRE(mid.chunks.size() == 2);
    CHECK(mid.chunks[0].data == "rld\n");
    CHECK(mid.chunks[1].data == "o");
    CHECK(log.read(17, 100).chunks.empty());
}

TEST_CASE("output log: keeps the last bytes, reports the gap, and reopens after a restart") {
    test::temp_dir dir;
    {
        engine::output_log log(dir / "p", 1024);
        for (int i = 0; i < 100; ++i)
            log.append(i % 2, std::string(50, static_cast<char>('a' + i % 26)));
        CHECK(log.end() == 5000);
        CHECK(log.start() > 5000 - 1024);
        CHECK(log.start() <= 5000 - 1024 + 128);
        auto r = log.read(0, 1 << 20);
        REQUIRE(r.gap_to);
        CHECK(*r.gap_to == log.start());
        std::size_t bytes = 0;
        for (const auto& c : r.chunks)
            bytes += c.data.size();
        CHECK(bytes == 5000 - log.start());
    }
    engine::output_log again(dir / "p", 1024);
    CHECK(again.end() == 5000);
    again.append(0, "more");
    CHECK(again.end() == 5004);
    CHECK(again.read(5000, 10).chunks.at(0).data == "more");
    again.remove();
    struct stat st {};
    CHECK(::stat((dir / "p").c_str(), &st) != 0);
}

TEST_CASE("restart policy: never, on-failure, always, maxRestarts") {
    using engine::restart_policy;
    CHECK(engine::parse_restart_policy("on-failure") == restart_policy::on_failure);
    CHECK(!engine::parse_restart_policy("sometimes"));
    CHECK(engine::restart_policy_name(restart_policy::always) == "always");
    CHECK(!engine::should_restart(restart_policy::never, false, 0, std::nullopt));
    CHECK(!engine::should_restart(restart_policy::on_failure, true, 0, std::nullopt));
    CHECK(engine::should_restart(restart_policy::on_failure, false, 5, std::nullopt));
    CHECK(engine::should_restart(restart_policy::always, true, 1, 2));
    CHECK(!engine::should_restart(restart_policy::always, true, 2, 2));
    CHECK(!engine::should_restart(restart_policy::on_failure, false, 0, 0));
}

TEST_CASE("output lines: JSON lines, U+FFFD for invalid bytes, a cut character held back") {
    auto line = output_lines::chunk(7, 1, "a\xff");
    CHECK(line.back() == '\n');
    auto j = nlohmann::json::parse(line);
    CHECK(j["offset"] == 7);
    CHECK(j["stream"] == "stderr");
    CHECK(j["data"] == "a\xEF\xBF\xBD");
    CHECK(nlohmann::json::parse(output_lines::gap(1, 9)) ==
          nlohmann::json{{"type", "gap"}, {"from", 1}, {"to", 9}});
    CHECK(output_lines::complete_prefix("abc") == "abc");
    CHECK(output_lines::complete_prefix("h\xc3") == "h");
    CHECK(output_lines::complete_prefix("h\xc3\xa9") == "h\xc3\xa9");
    CHECK(output_lines::complete_prefix("\xe2\x82") == "");
    CHECK(output_lines::complete_prefix("\xe2\x82\xac") == "\xe2\x82\xac");
    CHECK(output_lines::complete_prefix("x\xff") == "x\xff");
}
