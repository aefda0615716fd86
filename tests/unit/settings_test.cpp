// The engine's settings (docs/api.md §15): config formats, the config file's writes, and channels.
#include "settings/channels.hpp"
#include "settings/config_file.hpp"
#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cmath>

using namespace ag::settings;
using nlohmann::json;

TEST_CASE("settings: YAML scalars are typed by the core schema; quoted ones stay strings") {
    auto c = parse("a: 1\nb: '1'\nc: true\nd: \"true\"\ne: ~\nf: null\ng: 1.5\nh: -.inf\ni: 0x1f\nj: hello\n"
                   "k: [1, two, '3']\nl: {m: {n: x}}\no:\np: ''\n",
                   format::yaml);
    CHECK(c["a"] == 1);
    CHECK(c["b"] == "1");
    CHECK(c["c"] == true);
    CHECK(c["d"] == "true");
    CHECK(c["e"].is_null());
    CHECK(c["f"].is_null());
    CHECK(c["g"] == 1.5);
    CHECK(std::isinf(c["h"].get<double>()));
    CHECK(c["i"] == 31);
    CHECK(c["j"] == "hello");
    CHECK(c["k"] == json::parse(R"([1,"two","3"])"));
    CHECK(c["l"]["m"]["n"] == "x");
    CHECK(c["o"].is_null());
    CHECK(c["p"] == "");
    auto n = parse("a: +12\nb: -3\nc: 1e3\nd: .5\ne: 5.\nf: 1.5e-3\ng: +.inf\nh: .NaN\ni: 1e\nj: 1.2.3\n"
                   "k: '-'\nl: +\nm: 0o17\nn: TRUE\no: nullx\np: 12abc\nq: -.5E+2\n",
                   format::yaml);
    CHECK(n["a"] == 12);
    CHECK(n["b"] == -3);
    CHECK(n["c"] == 1000.0);
    CHECK(n["d"] == 0.5);
    CHECK(n["e"] == 5.0);
    CHECK(n["f"] == 0.0015);
    CHECK((std::isinf(n["g"].get<double>()) && n["g"].get<double>() > 0));
    CHECK(std::isnan(n["h"].get<double>()));
    CHECK(n["i"] == "1e"); // not numbers: they stay strings
    CHECK(n["j"] == "1.2.3");
    CHECK(n["k"] == "-");
    CHECK(n["l"] == "+");
    CHECK(n["m"] == 15);
    CHECK(n["n"] == true);
    CHECK(n["o"] == "nullx");
    CHECK(n["p"] == "12abc");
    CHECK(n["q"] == -50.0);
    CHECK(parse("", format::yaml) == json::object());
    CHECK(parse("# only a comment\n", format::yaml) == json::object());
}

TEST_CASE("settings: what is not a config says where") {
    CHECK_THROWS_WITH_AS(parse("a: [1, 2\n", format::yaml), doctest::Contains("line "), invalid_config);
    CHECK_THROWS_WITH_AS(parse("- 1\n- 2\n", format::yaml), "the config must be an object at the top",
                         invalid_config);
    CHECK_THROWS_WITH_AS(parse("{a: 1,,}", format::json5), doctest::Contains("line 1, column 7"),
                         invalid_config);
    CHECK_THROWS_WITH_AS(parse("[1]", format::json), "the config must be an object at the top",
                         invalid_config);
    CHECK(parse("// c\n{a: 'x', b: 0x10,}", format::json) == json::parse(R"({"a":"x","b":16})"));
}

TEST_CASE("settings: render then parse gives the same config, in each format") {
    json tricky = json::parse(R"({
        "strings": ["yes", "no", "123", "1.5", "null", "~", "", " padded ", "a: b", "#not a comment", "- x",
                    "line\nbreak", "tab\there", "quote \" and ' both", "ünïcødé ✓", "{flow}", "[seq]", "@at"],
        "numbers": [0, -7, 9007199254740993, 1.25, -0.5, 1e300],
        "flags": [true, false, null],
        "empty": {"object": {}, "array": []},
        "key with: colon": {"nested": {"deep": [[1], [2, [3]]]}}
    })");
    for (auto f : {format::json, format::json5, format::yaml}) {
        CAPTURE(name_of(f));
        CHECK(parse(render(tricky, f), f) == tricky);
    }
}

TEST_CASE("settings: the config file is written atomically, keeps its mode and the previous text as .bak") {
    test::temp_dir dir;
    std::string path = dir / "openclaw.json";
    config_file file(path);
    CHECK_FALSE(file.read().exists);
    file.write(json{{"a", 1}});
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600); // a new one: it holds tokens
    CHECK_FALSE(ag::fs_util::read_file(path + ".bak"));

    ::chmod(path.c_str(), 0640);
    file.write_raw("// kept as written\n{a: 2}\n");
    CHECK(*ag::fs_util::read_file(path) == "// kept as written\n{a: 2}\n");
    CHECK(*ag::fs_util::read_file(path + ".bak") == "{\n  \"a\": 1\n}\n");
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    CHECK(file.read().config == json{{"a", 2}});

    // A refused raw write changes nothing, .bak included.
    CHECK_THROWS_AS(file.write_raw("{a: "), invalid_config);
    CHECK(*ag::fs_util::read_file(path) == "// kept as written\n{a: 2}\n");
    CHECK(*ag::fs_util::read_file(path + ".bak") == "{\n  \"a\": 1\n}\n");

    CHECK_FALSE(file.update([](json&) { return false; }));
    CHECK(file.update([](json& c) {
        c["b"] = true;
        return true;
    }));
    CHECK(file.read().config == json::parse(R"({"a":2,"b":true})"));
    CHECK(*ag::fs_util::read_file(path + ".bak") == "// kept as written\n{a: 2}\n");
}

TEST_CASE("settings: channel status never shows a whole token") {
    json config = json::parse(R"({"channels":{
        "telegram":{"botToken":"123456:ABCDEFGHIJKLMNOP","dmPolicy":"pairing","allowFrom":["42"]},
        "discord":{"token":"discord-token-0123456789","enabled":false},
        "slack":{"botToken":"short"}}})");
    auto s = channel_status(config);
    CHECK(s["telegram"] == json::parse(R"({"configured":true,"enabled":true,"botTokenSet":true,
        "botTokenHint":"…MNOP","dmPolicy":"pairing","allowFrom":["42"],"appTokenSet":false})"));
    CHECK(s["discord"]["botTokenSet"] == true);
    CHECK(s["discord"]["botTokenHint"] == "…6789");
    CHECK(s["discord"]["enabled"] == false);
    CHECK(s["slack"]["botTokenHint"].is_null()); // too short to show any of it
    CHECK(s["whatsapp"]["configured"] == false);
    CHECK(s.dump().find("ABCDEFGHIJKLMNOP") == std::string::npos);
    CHECK(channel_status(json::object()).size() == 4);
}

TEST_CASE("settings: configuring a channel") {
    json config = json::object();
    CHECK_THROWS_AS(configure_channel(config, "irc", json::object()), unsupported_channel);
    CHECK_THROWS_WITH_AS(configure_channel(config, "telegram", json::object()),
                         "botToken is required to set up telegram", invalid_channel);
    CHECK_THROWS_WITH_AS(configure_channel(config, "slack", json{{"botToken", "xoxb-1"}}),
                         doctest::Contains("Slack needs appToken"), invalid_channel);
    CHECK_THROWS_AS(configure_channel(config, "telegram", json{{"botToken", "t"}, {"dmPolicy", "everyone"}}),
                    invalid_channel);
    CHECK_THROWS_AS(configure_channel(config, "telegram", json{{"botToken", 5}}), invalid_channel);
    CHECK_THROWS_AS(configure_channel(config, "telegram", json{{"botToken", "t"}, {"allowFrom", "42"}}),
                    invalid_channel);
    CHECK(config == json::object()); // refusals changed nothing

    auto written =
        configure_channel(config, "discord", json{{"botToken", "d-token"}, {"allowFrom", {"1", 2}}});
    CHECK(written == std::vector<std::string>{"d-token"});
    CHECK(config["channels"]["discord"] == json::parse(R"({"token":"d-token","allowFrom":["1",2]})"));

    config["channels"]["telegram"] = {{"botToken", "old"}, {"custom", "kept"}};
    configure_channel(config, "telegram", json{{"botToken", ""}, {"dmPolicy", "open"}, {"enabled", true}});
    CHECK(config["channels"]["telegram"] ==
          json::parse(R"({"botToken":"old","custom":"kept","dmPolicy":"open","enabled":true})"));

    configure_channel(config, "slack", json{{"botToken", "xoxb-1"}, {"appToken", "xapp-1"}});
    configure_channel(config, "slack", json{{"dmPolicy", "allowlist"}}); // both tokens kept
    CHECK(config["channels"]["slack"]["appToken"] == "xapp-1");

    CHECK(remove_channel(config, "slack"));
    CHECK_FALSE(remove_channel(config, "slack"));
    CHECK_FALSE(config["channels"].contains("slack"));
    CHECK_THROWS_AS(remove_channel(config, "irc"), unsupported_channel);
}

TEST_CASE("settings: secrets quoted in a message are masked") {
    CHECK(mask_secrets("bad token 123456:ABCDEFGHIJKLMNOP here", {"123456:ABCDEFGHIJKLMNOP"}) ==
          "bad token …MNOP here");
    CHECK(mask_secrets("short abc abc", {"abc"}) == "short … …");
    CHECK(mask_secrets("nothing", {""}) == "nothing");
}
