// The pieces of the log stream that need no sockets: line decoding, WebSocket framing, the hub's cursors.
#include "logs/decode.hpp"
#include "logs/hub.hpp"
#include "logs/line_splitter.hpp"
#include "logs/ws_frame.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace ag::logs;

namespace {
// The JSON payload of an unmasked server frame.
nlohmann::json payload(const shared_frame& f) {
    std::size_t len7 = static_cast<unsigned char>((*f)[1]) & 0x7f;
    std::size_t header = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
    return nlohmann::json::parse(f->substr(header));
}

std::string masked(ws::opcode op, std::string_view data, bool fin = true) {
    std::string out;
    out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(op)));
    out.push_back(static_cast<char>(0x80 | data.size()));
    const unsigned char mask[4] = {1, 2, 3, 4};
    out.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < data.size(); ++i)
        out.push_back(static_cast<char>(data[i] ^ mask[i % 4]));
    return out;
}
} // namespace

TEST_CASE("decode_line: tslog, plain JSON, pino levels, text") {
    auto t = decode_line(
        R"({"0":"[gw]","2":"c","1":{"a":1},"_meta":{"logLevelName":"WARN","name":"{\"subsystem\":\"gateway/ws\"}"},"time":"t"})",
        "engine");
    CHECK(t.lvl == level::warn);
    CHECK(t.source == "gateway/ws");
    CHECK(t.message == R"([gw] {"a":1} c)");
    auto p = decode_line(R"({"level":"error","msg":"boom","source":"cron/runner"})", "engine");
    CHECK(p.lvl == level::error);
    CHECK(p.source == "cron/runner");
    CHECK(p.message == "boom");
    CHECK(decode_line(R"({"level":50,"message":"pino"})", "engine").lvl == level::error);
    CHECK(decode_line(R"({"level":60,"message":"x"})", "engine").lvl == level::fatal);
    auto text = decode_line("plain words\r", "script/build");
    CHECK(text.lvl == level::info);
    CHECK(text.source == "script/build");
    CHECK(text.message == "plain words");
    // JSON without a message is kept whole as text; broken JSON too.
    CHECK(decode_line(R"({"other":1})", "engine").message == R"({"other":1})");
    CHECK(decode_line(R"({"level":"warn","msg":)", "engine").message == R"({"level":"warn","msg":)");
    CHECK(decode_line(R"({"level":"warn","msg":)", "engine").lvl == level::info);
}

TEST_CASE("line_splitter: lines across chunks, long lines in pieces, flush") {
    line_splitter s;
    std::vector<std::string> got;
    auto emit = [&](std::string_view l) { got.emplace_back(l); };
    s.feed("a\nb", emit);
    s.feed("c\n\nd", emit);
    CHECK(got == std::vector<std::string>{"a", "bc", ""});
    CHECK(s.has_partial());
    s.flush(emit);
    CHECK(got.back() == "d");
    got.clear();
    s.feed(std::string(max_message_bytes + 10, 'x'), emit);
    CHECK(got.size() == 1);
    CHECK(got[0].size() == max_message_bytes);
    s.feed("\n", emit);
    CHECK(got.size() == 2);
    CHECK(got[1].size() == 10);
}

TEST_CASE("ws frames: encode lengths, parse masked client frames, reject bad ones") {
    CHECK(ws::encode(ws::opcode::text, "hi") == std::string("\x81\x02hi", 4));
    CHECK(ws::encode(ws::opcode::text, std::string(200, 'a')).substr(0, 4) ==
          std::string("\x81\x7e\x00\xc8", 4));
    CHECK(ws::encode(ws::opcode::text, std::string(70000, 'a')).size() == 70000 + 10);
    CHECK(ws::encode_close(1008, "why") == std::string("\x88\x05\x03\xf0why", 7));

    ws::parser p;
    ws::frame f;
    std::string bytes = masked(ws::opcode::ping, "abc") + masked(ws::opcode::text, "ignored") +
                        masked(ws::opcode::close, std::string("\x03\xe8", 2));
    std::string_view in = bytes;
    // Fed one byte at a time, frames still come out whole.
    std::vector<ws::frame> frames;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::string_view one = in.substr(i, 1);
        while (!one.empty())
            if (p.feed(one, f) == ws::parser::status::frame_ready)
                frames.push_back(f);
    }
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].op == ws::opcode::ping);
    CHECK(frames[0].payload == "abc");
    CHECK(frames[1].op == ws::opcode::text);
    CHECK(frames[2].op == ws::opcode::close);
    CHECK(frames[2].payload == std::string("\x03\xe8", 2));

    ws::parser strict;
    std::string unmasked = ws::encode(ws::opcode::text, "x");
    std::string_view u = unmasked;
    CHECK(strict.feed(u, f) == ws::parser::status::protocol_error);
    ws::parser strict2;
    std::string fragmented_ping = masked(ws::opcode::ping, "x", false);
    std::string_view fp = fragmented_ping;
    CHECK(strict2.feed(fp, f) == ws::parser::status::protocol_error);
}

namespace {
ws::parser::status feed_all(const std::string& bytes) {
    ws::parser p;
    ws::frame f;
    std::string_view in = bytes;
    auto s = ws::parser::status::need_more;
    while (!in.empty()) {
        s = p.feed(in, f);
        if (s != ws::parser::status::frame_ready && s != ws::parser::status::need_more)
            return s;
    }
    return s;
}
} // namespace

TEST_CASE("ws frames: close codes and lengths, fragment order and UTF-8 as RFC 6455 asks of a receiver") {
    using st = ws::parser::status;
    auto close_with = [](std::uint16_t code, std::string reason = {}) {
        return masked(ws::opcode::close,
                      std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)} + reason);
    };
    CHECK(feed_all(close_with(1000)) == st::frame_ready);
    CHECK(feed_all(close_with(4000, "bye")) == st::frame_ready);
    CHECK(feed_all(masked(ws::opcode::close, "")) == st::frame_ready);
    for (std::uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 2999, 5000})
        CHECK_MESSAGE(feed_all(close_with(bad)) == st::protocol_error, bad);
    CHECK(feed_all(masked(ws::opcode::close, "x")) == st::protocol_error); // one byte: no room for a code
    CHECK(feed_all(close_with(1000, "\xff")) == st::invalid_utf8);
    // Text must be UTF-8, even split across fragments; binary is anything.
    CHECK(feed_all(masked(ws::opcode::text, "caf\xc3\xa9")) == st::frame_ready);
    CHECK(feed_all(masked(ws::opcode::text, "caf\xc3", false) + masked(ws::opcode::continuation, "\xa9")) ==
          st::frame_ready);
    CHECK(feed_all(masked(ws::opcode::text, "\xc3")) == st::invalid_utf8);
    CHECK(feed_all(masked(ws::opcode::text, "\xed\xa0\x80")) == st::invalid_utf8); // a surrogate
    CHECK(feed_all(masked(ws::opcode::text, "\xc0\xaf")) == st::invalid_utf8);     // overlong '/'
    CHECK(feed_all(masked(ws::opcode::binary, "\xff\xfe")) == st::frame_ready);
    // A continuation with nothing to continue, and a new message in the middle of one.
    CHECK(feed_all(masked(ws::opcode::continuation, "x")) == st::protocol_error);
    CHECK(feed_all(masked(ws::opcode::text, "a", false) + masked(ws::opcode::text, "b")) ==
          st::protocol_error);
    // A ping between fragments is fine.
    CHECK(feed_all(masked(ws::opcode::text, "a", false) + masked(ws::opcode::ping, "") +
                   masked(ws::opcode::continuation, "b")) == st::frame_ready);
}

TEST_CASE("hub: backlog then live with no gap, level filter, wake-ups") {
    test::temp_dir dir;
    journal j(dir.path);
    hub h(j);
    for (int i = 0; i < 5; ++i)
        h.publish(level::info, "engine", "early " + std::to_string(i));
    int woken = 0;
    auto [backlog, sub] = h.subscribe({level::trace, std::nullopt, 3, [&] { ++woken; }});
    REQUIRE(backlog.size() == 3);
    CHECK(payload(backlog.front())["message"] == "early 2");
    auto empty = h.poll(*sub, 1 << 20);
    CHECK(empty.frames.empty());
    h.publish(level::debug, "engine", "live");
    CHECK(woken == 1);
    h.publish(level::error, "engine", "second");
    CHECK(woken == 1); // armed once per empty poll
    auto b = h.poll(*sub, 1 << 20);
    REQUIRE(b.frames.size() == 2);
    CHECK(payload(b.frames[0])["seq"] == payload(backlog.back())["seq"].get<int>() + 1);
    CHECK(payload(b.frames[1])["message"] == "second");

    auto [warn_backlog, warn] = h.subscribe({level::warn, 0, 100, {}});
    CHECK(warn_backlog.size() == 1); // only "second", from everything after seq 0
    h.publish(level::info, "engine", "quiet");
    h.publish(level::fatal, "engine", "loud");
    auto w = h.poll(*warn, 1 << 20);
    REQUIRE(w.frames.size() == 1);
    CHECK(payload(w.frames[0])["message"] == "loud");
    h.unsubscribe(*sub);
    h.unsubscribe(*warn);
    CHECK(h.subscribers() == 0);
}

TEST_CASE("hub: a reader past the queue limit skips its oldest entries and is told how many") {
    test::temp_dir dir;
    journal j(dir.path);
    hub h(j, 10 * 1024, 40 * 1024);
    auto [backlog, slow] = h.subscribe({level::trace, std::nullopt, 0, {}});
    auto [b2, filtered] = h.subscribe({level::error, std::nullopt, 0, {}});
    std::string line(100, 'z');
    for (int i = 0; i < 1000; ++i)
        h.publish(i % 100 == 0 ? level::error : level::info, "engine", line);
    auto b = h.poll(*slow, 1 << 20);
    std::size_t bytes = 0;
    for (auto& f : b.frames)
        bytes += f->size();
    CHECK(b.dropped > 0);
    CHECK(b.dropped + b.frames.size() == 1000);
    CHECK(bytes <= 10 * 1024);
    CHECK(payload(b.frames.back())["seq"] == 1000);
    // The error-only reader's ten entries are well under its limit, but most of them left the ring
    // (40 KiB holds the last ~250 entries): those count as dropped too.
    auto e = h.poll(*filtered, 1 << 20);
    CHECK(e.dropped + e.frames.size() == 10);
    for (auto& f : e.frames)
        CHECK(payload(f)["level"] == "ERROR");
}

TEST_CASE("entry JSON: field order, escaping that any JSON parser reads back") {
    entry e{7, "2026-11-30T12:00:00.000Z", level::warn, "src/\"x\"", "tab\there \\ \"q\" \x01 nl\n é ✓"};
    auto text = to_json(e);
    CHECK(text.rfind(R"({"seq":7,"timestamp":"2026-11-30T12:00:00.000Z","level":"WARN","source":)", 0) == 0);
    auto j = nlohmann::json::parse(text);
    CHECK(j["message"] == e.message);
    CHECK(j["source"] == e.source);
    CHECK(*from_json(text) == e);
}
