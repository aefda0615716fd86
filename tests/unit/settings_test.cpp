// The engine's settings (docs/api.md §15): config formats, the config file's writes, and channels.
#include "settings/channels.hpp"
#include "settings/config_file.hpp"
#include "settings/engine_cli.hpp"
#include "support/temp_dir.hpp"
#include "util/atomic_file.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <filesystem>

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

namespace {

std::string error_of(std::string_view text, format f) {
    try {
        parse(text, f);
    } catch (const invalid_config& e) {
        return e.what();
    }
    return "";
}

// The billion laughs: ten levels of ten aliases each, 10^10 nodes from a few hundred bytes.
std::string yaml_bomb() {
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; ++i) {
        std::string prev = "*a" + std::to_string(i - 1);
        text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k)
            text += (k ? ", " : "") + prev;
        text += "]\n";
    }
    return text;
}

long long milliseconds_of(const std::function<void()>& f) {
    auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
        .count();
}

} // namespace

TEST_CASE("settings: a YAML alias bomb is refused before its aliases are expanded") {
    std::string bomb = yaml_bomb();
    CHECK(bomb.size() < 600);
    std::string error;
    CHECK(milliseconds_of([&] { error = error_of(bomb, format::yaml); }) < 1000);
    CHECK_MESSAGE(error.find("more than 100000 nodes once its aliases are expanded") != std::string::npos,
                  error);
    CHECK_THROWS_AS(parse(bomb, format::yaml), config_too_large);
    // Aliases within the limit are read, each expanded.
    CHECK(parse("base: &b {x: 1}\none: *b\ntwo: [*b, *b]\n", format::yaml) ==
          json::parse(R"({"base":{"x":1},"one":{"x":1},"two":[{"x":1},{"x":1}]})"));
    std::string many = "a: &a [";
    for (int i = 0; i < 999; ++i)
        many += "x, ";
    many += "x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"; // 10,000 nodes: fine
    CHECK(parse(many, format::yaml)["b"].size() == 9);
    many = "a: &a [";
    for (int i = 0; i < 9999; ++i)
        many += "x, ";
    many += "x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"; // 110,000 nodes: not
    CHECK_THROWS_AS(parse(many, format::yaml), config_too_large);
    // An alias inside the node it names would never end.
    CHECK(error_of("a: &a [1, *a]\n", format::yaml).find("an alias inside the node it names") !=
          std::string::npos);
}

TEST_CASE("settings: nesting deeper than 256 levels is refused before it costs anything") {
    auto nested = [](std::size_t n) {
        return "{\"a\": " + std::string(n - 1, '[') + std::string(n - 1, ']') + "}";
    };
    CHECK_NOTHROW(parse(nested(256), format::json));
    CHECK_NOTHROW(parse(nested(256), format::yaml));
    for (auto f : {format::json, format::json5, format::yaml}) {
        CHECK_THROWS_WITH_AS(parse(nested(257), f), doctest::Contains("nested deeper than 256 levels"),
                             config_too_large);
        CHECK(milliseconds_of([&] { CHECK_THROWS_AS(parse(nested(12000), f), config_too_large); }) < 1000);
    }
    // Block YAML nests too: a sequence in a sequence per two bytes.
    std::string block;
    for (int i = 0; i < 12000; ++i)
        block += "- ";
    block += "x\n";
    CHECK_THROWS_AS(parse(block, format::yaml), config_too_large);
    // Aliases can nest a deep node in another.
    std::string deep = "a: &a " + std::string(200, '[') + std::string(200, ']') +
                       "\nb: " + std::string(100, '[') + "*a" + std::string(100, ']') + "\n";
    CHECK_THROWS_AS(parse(deep, format::yaml), config_too_large);
    // Indentation at 250 levels makes each "1," of a compact body some 500 bytes: refused before it is built.
    json wide = json::array();
    for (int i = 0; i < 5000; ++i)
        wide.push_back(1);
    json deep_wide = wide;
    for (int i = 0; i < 250; ++i)
        deep_wide = json::array({deep_wide});
    CHECK(deep_wide.dump().size() < 12 * 1024);
    for (auto f : {format::json, format::yaml})
        CHECK_THROWS_WITH_AS(render_within_limit(json{{"a", deep_wide}}, f), "larger than 1 MiB once written",
                             config_too_large);
    CHECK(render_within_limit(json{{"a", wide}}, format::json) == render(json{{"a", wide}}, format::json));
    // The request body's check: brackets in strings do not count, one level for the body itself.
    CHECK_NOTHROW(check_depth(R"({"config": )" + nested(256) + "}", 1));
    CHECK_THROWS_AS(check_depth(R"({"config": )" + nested(257) + "}", 1), config_too_large);
    CHECK_NOTHROW(check_depth(R"({"raw": ")" + std::string(12000, '[') + "\"}", 1));
}

namespace {

// The security review's file: everything a plain-JSON rewrite loses.
const std::string operators_file = R"(// OpenClaw config, by hand
{
  gateway: {
    mode: 'local', // single quotes
    port: 18790,
  },
  limits: {max: Infinity, ratio: NaN, big: 12345678901234567890, hex: 0x1F, plus: +1,},
  channels: {
    /* the team's bot */
    telegram: {botToken: '123456:ABCDEFGHIJKLMNOP', custom: Infinity, enabled: true,},
    discord: {token: "d-1234567890", enabled: false},
  },
}
)";

std::string between(const std::string& text, const std::string& from, const std::string& to) {
    auto a = text.find(from);
    auto b = text.find(to, a);
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    return text.substr(a, b - a);
}

} // namespace

TEST_CASE("settings: a channel change edits only its own section of a JSON5 file") {
    json config = parse(operators_file, format::json5);
    CHECK(config["limits"]["big"] == 12345678901234567890ULL);

    // Only the keys the request changes: the section's comment, its other keys and Infinity stay.
    auto change = plan_channel(config, "telegram", json{{"botToken", ""}, {"dmPolicy", "open"}});
    CHECK(change.edits.size() == 1);
    std::string out = apply_edits(operators_file, format::json5, change.edits);
    std::string telegram_line =
        "telegram: {botToken: '123456:ABCDEFGHIJKLMNOP', custom: Infinity, enabled: true,";
    auto at = operators_file.find(telegram_line) + telegram_line.size();
    CHECK(out.substr(0, at) == operators_file.substr(0, at));
    CHECK(out.substr(at) == " dmPolicy: \"open\"," + operators_file.substr(at));
    json back = parse(out, format::json5);
    CHECK(back["channels"]["telegram"]["dmPolicy"] == "open");
    CHECK(std::isinf(back["channels"]["telegram"]["custom"].get<double>()));

    // A new section goes after the last one; nothing before or after it changes.
    change = plan_channel(config, "whatsapp", json{{"botToken", "w-token"}});
    out = apply_edits(operators_file, format::json5, change.edits);
    std::string discord = R"(discord: {token: "d-1234567890", enabled: false},)";
    at = operators_file.find(discord) + discord.size();
    CHECK(out.substr(0, at) == operators_file.substr(0, at));
    CHECK(out.substr(at) ==
          "\n    whatsapp: {\n      \"botToken\": \"w-token\"\n    }," + operators_file.substr(at));

    // No channels section yet: it is made, after the last member.
    std::string plain = "{\n  // mine\n  \"a\": NaN\n}\n";
    out = apply_edits(plain, format::json,
                      plan_channel(json{{"a", 0}}, "discord", json{{"botToken", "d"}}).edits);
    CHECK(out == "{\n  // mine\n  \"a\": NaN,\n  \"channels\": {\n    \"discord\": {\n      \"token\": "
                 "\"d\"\n    }\n  }\n}\n");
    // No file yet: one is made.
    CHECK(parse(apply_edits("", format::json, {{{"channels", "x"}, json{{"k", 1}}}}), format::json) ==
          json{{"channels", {{"x", {{"k", 1}}}}}});

    // DELETE takes the section, its comment line stays, as does the other section.
    auto removal = plan_channel_removal(config, "telegram");
    REQUIRE(removal.size() == 1);
    out = apply_edits(operators_file, format::json5, removal);
    CHECK(out == between(operators_file, "// OpenClaw", "    telegram:") +
                     operators_file.substr(operators_file.find("    discord:")));
    CHECK(plan_channel_removal(config, "slack").empty());

    // YAML is written anew: the values stay.
    std::string yaml = "# mine\ngateway:\n  mode: local\n";
    out = apply_edits(yaml, format::yaml, {{{"channels", "telegram"}, json{{"botToken", "t"}}}});
    CHECK(parse(out, format::yaml) ==
          json::parse(R"({"gateway":{"mode":"local"},"channels":{"telegram":{"botToken":"t"}}})"));
}

TEST_CASE("settings: edit() changes only the planned members and keeps the old text as .bak") {
    test::temp_dir dir;
    std::string path = dir / "openclaw.json";
    ag::fs_util::write_file_atomic(path, operators_file, 0600);
    config_file file(path);
    CHECK_FALSE(file.edit([](const config_file::contents&) { return std::vector<member_edit>{}; }));
    CHECK(file.edit([](const config_file::contents& c) {
        CHECK(c.exists);
        return std::vector<member_edit>{{{"gateway", "trustedProxies"}, json{"127.0.0.1", "::1"}}};
    }));
    std::string out = *ag::fs_util::read_file(path);
    std::string port = "    port: 18790,";
    auto at = operators_file.find(port) + port.size();
    CHECK(out.substr(0, at) == operators_file.substr(0, at));
    CHECK(out.substr(at).starts_with(
        "\n    trustedProxies: [\n      \"127.0.0.1\",\n      \"::1\"\n    ],\n  },"));
    CHECK(out.substr(out.size() - (operators_file.size() - at)) == operators_file.substr(at));
    CHECK(*ag::fs_util::read_file(path + ".bak") == operators_file);
}

TEST_CASE("settings: a config path that is a symbolic link is written through to its target") {
    test::temp_dir dir;
    std::filesystem::create_directories(dir / "real");
    std::filesystem::create_directories(dir / "links");
    std::string target = dir / "real/openclaw.json";
    std::string link = dir / "links/openclaw.json";
    ag::fs_util::write_file_atomic(target, "{a: 1}\n", 0640);
    std::filesystem::create_symlink("../real/openclaw.json", link); // relative, to another directory
    std::filesystem::create_symlink(dir / "links/openclaw.json", dir / "chain.json"); // a link to the link
    for (const std::string& path : {link, dir / "chain.json"}) {
        config_file file(path);
        CHECK(file.target() == dir / "links/../real/openclaw.json");
        std::string before = *ag::fs_util::read_file(target);
        file.write(json{{"a", 2}});
        CHECK(std::filesystem::is_symlink(link));
        CHECK(std::filesystem::is_symlink(dir / "chain.json"));
        CHECK(parse(*ag::fs_util::read_file(target), format::json) == json{{"a", 2}});
        CHECK(*ag::fs_util::read_file(target + ".bak") == before);
        CHECK_FALSE(std::filesystem::exists(dir / "links/openclaw.json.bak"));
        CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(dir / "chain.json.bak")));
        struct stat st {};
        REQUIRE(::stat(target.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0640);
        CHECK(file.read().config == json{{"a", 2}});
        ag::fs_util::write_file_atomic(target, "{a: 1}\n", 0640);
    }
    // A link to nothing yet: the file is made where it points.
    std::filesystem::create_symlink("new.json", dir / "dangling.json");
    config_file(dir / "dangling.json").write(json{{"b", 1}});
    CHECK(std::filesystem::is_symlink(dir / "dangling.json"));
    CHECK(*ag::fs_util::read_file(dir / "new.json") == "{\n  \"b\": 1\n}\n");
}

TEST_CASE("settings: a device request id is a letter or digit first, never an option") {
    CHECK(valid_request_id("r-1"));
    CHECK(valid_request_id("7f3c.a_b:c-d"));
    CHECK(valid_request_id(std::string(128, 'a')));
    CHECK_FALSE(valid_request_id(std::string(129, 'a')));
    CHECK_FALSE(valid_request_id(""));
    CHECK_FALSE(valid_request_id("--help"));
    CHECK_FALSE(valid_request_id("-x"));
    CHECK_FALSE(valid_request_id(".hidden"));
    CHECK_FALSE(valid_request_id("_a"));
    CHECK_FALSE(valid_request_id("r;id"));
    CHECK_FALSE(valid_request_id("r id"));
    CHECK_FALSE(valid_request_id("\xC3\xA9t\xC3\xA9"));
}

TEST_CASE("settings: a YAML edit changes only the member's lines where the path is block mappings") {
    const std::string yaml = R"(# Hermes config, by hand
model:
  name: hermes   # the default
  retries: 3
base: &base {x: 1}
uses: *base
gateway:
  mode: local
  port: 18790
channels:
  discord:
    token: "d-1"
    enabled: false
# the end
)";
    auto edited = [&](const std::vector<member_edit>& edits) {
        return apply_edits(yaml, format::yaml, edits);
    };
    auto with = [&](const std::string& after, const std::string& lines) {
        auto at = yaml.find(after) + after.size();
        return yaml.substr(0, at) + lines + yaml.substr(at);
    };
    CHECK(edited({{{"gateway", "trustedProxies"}, json{"127.0.0.1", "::1"}}}) ==
          with("  port: 18790\n", "  trustedProxies:\n    - \"127.0.0.1\"\n    - \"::1\"\n"));
    CHECK(edited({{{"channels", "telegram"}, json{{"botToken", "t"}}}}) ==
          with("    enabled: false\n", "  telegram:\n    \"botToken\": \"t\"\n"));
    std::string enabled = edited({{{"channels", "discord", "enabled"}, true}});
    CHECK(
        enabled ==
        with("    enabled: false\n", "").replace(yaml.find("    enabled: false"), 19, "    enabled: true\n"));
    // The section's last member gone: an empty mapping, not null.
    std::string removed = edited({{{"channels", "discord"}, std::nullopt}});
    CHECK(removed == yaml.substr(0, yaml.find("channels:")) + "channels: {}\n# the end\n");
    CHECK(parse(removed, format::yaml)["channels"] == json::object());
    CHECK(edited({{{"model"}, std::nullopt}}) ==
          yaml.substr(0, yaml.find("model:")) + yaml.substr(yaml.find("base:")));
    CHECK(parse(edited({{{"new", "deep"}, json::object()}}), format::yaml)["new"] ==
          json{{"deep", json::object()}});
    // A flow mapping on the way: written anew, its values kept.
    CHECK(parse(apply_edits("gateway: {mode: local}\n", format::yaml,
                            {{{"gateway", "trustedProxies"}, json{"::1"}}}),
                format::yaml) == json::parse(R"({"gateway":{"mode":"local","trustedProxies":["::1"]}})"));
    // An alias that names the edited node: written anew too, as the value reads.
    std::string anchored = "a: &x {k: 1}\nb: *x\n";
    CHECK(parse(apply_edits(anchored, format::yaml, {{{"a", "k"}, 2}}), format::yaml) ==
          json::parse(R"({"a":{"k":2},"b":{"k":1}})"));
}
