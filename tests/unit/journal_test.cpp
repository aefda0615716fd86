#include "logs/journal.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

using namespace ag::logs;

namespace {
std::vector<std::string> segments(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    while (auto* e = ::readdir(d))
        if (std::string(e->d_name).rfind("segment-", 0) == 0)
            out.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}
} // namespace

TEST_CASE("levels and formats") {
    CHECK(*parse_level("warning") == level::warn);
    CHECK(*parse_level(" Error ") == level::error);
    CHECK(*parse_level("fatal") == level::fatal);
    CHECK_FALSE(parse_level("loud"));
    entry e{7, "2026-11-30T12:00:00.000Z", level::warn, "engine", "disk \"almost\" full"};
    CHECK(to_line(e) == "2026-11-30T12:00:00.000Z WARN [engine] disk \"almost\" full");
    CHECK(
        to_json(e) ==
        R"({"seq":7,"timestamp":"2026-11-30T12:00:00.000Z","level":"WARN","source":"engine","message":"disk \"almost\" full"})");
    CHECK(*from_json(to_json(e)) == e);
    CHECK_FALSE(from_json(R"({"seq":1,"timestamp":"t","level":"INFO","source":"s","mess)"));
    CHECK_FALSE(from_json(R"({"seq":-1,"timestamp":"t","level":"INFO","source":"s","message":"m"})"));
}

TEST_CASE("seq increases by one; last(n) and after(seq) are oldest first") {
    test::temp_dir s;
    journal j(s.path, 5);
    for (int i = 1; i <= 8; ++i)
        CHECK(j.append(level::info, "engine", "line " + std::to_string(i)) == static_cast<std::uint64_t>(i));
    auto last = j.last(100);
    REQUIRE(last.size() == 5); // the ring keeps 5
    CHECK(last.front().seq == 4);
    CHECK(last.back().message == "line 8");
    CHECK(j.last(2).front().seq == 7);
    auto after = j.after(6);
    REQUIRE(after.size() == 2);
    CHECK(after[0].seq == 7);
    CHECK(j.after(8).empty());
    CHECK(j.last_seq() == 8);
}

TEST_CASE("entries and seq survive a restart; a line cut short by a crash is skipped") {
    test::temp_dir s;
    {
        journal j(s.path, 1000);
        for (int i = 0; i < 10; ++i)
            j.append(level::error, "script/build", "before " + std::to_string(i));
    }
    // A crash in the middle of writing an 11th line.
    auto segs = segments(s.path);
    REQUIRE(segs.size() == 1);
    {
        std::ofstream out(s.path + "/" + segs[0], std::ios::app);
        out << R"({"seq":11,"timestamp":"2026-11-30T12:00:00.000Z","level":"INFO","source":"engine","mess)";
    }
    journal j(s.path, 1000);
    CHECK(j.last_seq() == 10);
    auto all = j.last(1000);
    REQUIRE(all.size() == 10);
    CHECK(all.front().message == "before 0");
    CHECK(all.back().lvl == level::error);
    CHECK(all.back().source == "script/build");
    CHECK(j.append(level::info, "engine", "after") == 11);
    journal again(s.path, 1000);
    CHECK(again.last(1).front().message == "after");
    CHECK(again.last(1000).size() == 11);
}

TEST_CASE("segments are compacted and the last `keep` entries always survive") {
    test::temp_dir s;
    {
        journal j(s.path, 100);
        for (int i = 0; i < 1050; ++i)
            j.append(level::info, "engine", std::to_string(i));
        CHECK(segments(s.path).size() <= 2);
    }
    journal j(s.path, 100);
    CHECK(j.last_seq() == 1050);
    auto kept = j.last(1000);
    REQUIRE(kept.size() == 100);
    CHECK(kept.front().seq == 951);
    CHECK(kept.back().message == "1049");
}

TEST_CASE("long lines are split at 64 KiB on character boundaries, never dropped") {
    test::temp_dir s;
    journal j(s.path, 1000);
    std::string line;
    while (line.size() < 150 * 1024)
        line += "ab\xE2\x9C\x93"; // 5 bytes with a 3-byte character
    auto last = j.append(level::info, "engine", line);
    CHECK(last == 3);
    auto parts = j.last(10);
    REQUIRE(parts.size() == 3);
    std::string joined;
    for (auto& p : parts) {
        CHECK(p.message.size() <= max_message_bytes);
        CHECK(p.message.find("\xEF\xBF\xBD") == std::string::npos);
        joined += p.message;
    }
    CHECK(joined == line);
}

TEST_CASE("the last `keep` entries survive any number of restarts, with few lines or none in between") {
    test::temp_dir s;
    {
        journal j(s.path, 1000);
        for (int i = 1; i <= 600; ++i)
            j.append(level::info, "engine", "line " + std::to_string(i));
    }
    // Three clean restarts, then twenty more with a line each: nothing of the 600 may go.
    for (int restart = 0; restart < 3; ++restart)
        journal j(s.path, 1000);
    for (int restart = 0; restart < 20; ++restart) {
        journal j(s.path, 1000);
        j.append(level::info, "daemon", "start " + std::to_string(restart));
    }
    journal j(s.path, 1000);
    auto all = j.last(1000);
    REQUIRE(all.size() == 620);
    CHECK(all.front().message == "line 1");
    CHECK(all.back().message == "start 19");
    CHECK(j.last_seq() == 620);
    // Many short runs do not leave a file each: a start compacts them.
    CHECK(segments(s.path).size() <= 9);
    // Past `keep`, the oldest go and exactly the newest `keep` stay.
    for (int i = 0; i < 900; ++i)
        j.append(level::info, "engine", "more " + std::to_string(i));
    auto kept = journal(s.path, 1000).last(2000); // a second reader of the same directory
    CHECK(kept.size() == 1000);
    CHECK(kept.back().message == "more 899");
}
