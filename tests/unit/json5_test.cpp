// util/json5: the spec's features and edge cases, the errors, and random documents written in every JSON5
// style by a generator of their own (independent of the reader) read back to the values they were made from.
#include "util/json5.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>

namespace {

using ag::json5::parse;
using nlohmann::json;

std::string error_of(std::string_view text) {
    try {
        parse(text);
    } catch (const ag::json5::parse_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("json5: what OpenClaw's openclaw.json uses") {
    auto v = parse(R"(// OpenClaw config
{
  gateway: {
    mode: 'local', /* block
    comment */ port: 18790,
    trustedProxies: ["127.0.0.1",],
  },
  hooks: {enabled: true, token: "H"},
}
)");
    CHECK(v == json::parse(R"({"gateway":{"mode":"local","port":18790,"trustedProxies":["127.0.0.1"]},
                               "hooks":{"enabled":true,"token":"H"}})"));
}

TEST_CASE("json5: numbers") {
    CHECK(parse("0x1F") == 31);
    CHECK(parse("-0xff") == -255);
    CHECK(parse("+5") == 5);
    CHECK(parse(".5").get<double>() == 0.5);
    CHECK(parse("5.").get<double>() == 5.0);
    CHECK(parse("-.5e1").get<double>() == -5.0);
    CHECK(parse("1e3").get<double>() == 1000.0);
    CHECK(parse("123456789012345678901234567890").get<double>() == doctest::Approx(1.2345678901234568e29));
    CHECK(std::isinf(parse("Infinity").get<double>()));
    CHECK(parse("-Infinity").get<double>() < 0);
    CHECK(std::isnan(parse("NaN").get<double>()));
    CHECK(std::isnan(parse("+NaN").get<double>()));
    CHECK(parse("0") == 0);
    CHECK(parse("-0").get<double>() == 0);
    CHECK(error_of("01") == "line 1, column 1: a number with a leading zero");
    CHECK(error_of("0x") == "line 1, column 3: 0x without hexadecimal digits");
    CHECK(error_of("1e") == "line 1, column 3: an exponent without digits");
    CHECK(error_of(".") == "line 1, column 1: not a number");
    CHECK(error_of("12abc") == "line 1, column 3: unexpected character after a number");
    CHECK(error_of("Infinityx") == "line 1, column 1: not a JSON5 value");
}

TEST_CASE("json5: strings and their escapes") {
    CHECK(parse(R"('single "quotes"')") == "single \"quotes\"");
    CHECK(parse(R"("double 'quotes'")") == "double 'quotes'");
    CHECK(parse(R"('\b\f\n\r\t\v\0\'\"\\\/')") == std::string("\b\f\n\r\t\v\0'\"\\/", 11));
    CHECK(parse(R"("\x41\u00e9\uD83D\uDE00")") == "A\xC3\xA9\xF0\x9F\x98\x80");
    CHECK(parse("'line \\\ncontinued'") == "line continued");
    CHECK(parse("'crlf \\\r\ncontinued'") == "crlf continued");
    CHECK(parse("'sep \\\xE2\x80\xA8"
                "continued'") == "sep continued");
    CHECK(parse("'raw \xE2\x80\xA8 separator'") == "raw \xE2\x80\xA8 separator");
    CHECK(parse(R"('\a\c')") == "ac"); // any other character stands for itself
    CHECK(error_of("'a\nb'") ==
          "line 1, column 3: a line break inside a string (escape it with a backslash)");
    CHECK(error_of("'\\1'") == "line 1, column 3: a digit escape (octal escapes are not JSON5)");
    CHECK(error_of("'\\01'") == "line 1, column 4: \\0 followed by a digit (octal escapes are not JSON5)");
    CHECK(error_of(R"("\uD83D")") == "line 1, column 4: a high surrogate without its low half");
    CHECK(error_of(R"("\uDE00")") == "line 1, column 4: a lone low surrogate");
    CHECK(error_of(R"("\xZZ")") == "line 1, column 4: not a hexadecimal digit in an escape");
    CHECK(error_of("'open") == "line 1, column 6: a string that never ends");
    CHECK(error_of(std::string("'\x01'")) == "line 1, column 2: a control character inside a string");
    CHECK(error_of("'\xC3'") == "line 1, column 2: invalid UTF-8");
    CHECK(error_of("'\xED\xA0\x80'") == "line 1, column 2: invalid UTF-8"); // an encoded surrogate
}

TEST_CASE("json5: keys, commas, comments, whitespace") {
    CHECK(parse("{$a_1: 1, _: 2, \\u0061b: 3, 'q k': 4, \"d\": 5, caf\xC3\xA9: 6}") ==
          json{{"$a_1", 1}, {"_", 2}, {"ab", 3}, {"q k", 4}, {"d", 5}, {"caf\xC3\xA9", 6}});
    CHECK(parse("{a:1,a:2}") == json{{"a", 2}});
    CHECK(parse("[1,2,]") == json{1, 2});
    CHECK(parse("{a:1,}") == json{{"a", 1}});
    CHECK(parse("\xEF\xBB\xBF\v\f\xC2\xA0 [ /* c */ 1 // c\n ]\xE2\x80\xA9") == json{1});
    CHECK(parse("{null: 1, true: 2}") == json{{"null", 1}, {"true", 2}}); // reserved words as keys
    CHECK(parse("{}") == json::object());
    CHECK(parse("[]") == json::array());
    CHECK(error_of("[1,,2]") == "line 1, column 4: not a JSON5 value");
    CHECK(error_of("[,]") == "line 1, column 2: not a JSON5 value");
    CHECK(error_of("{,}") == "line 1, column 2: expected a key (a string or an identifier)");
    CHECK(error_of("{1a: 2}") == "line 1, column 2: expected a key (a string or an identifier)");
    CHECK(error_of("{a 1}") == "line 1, column 4: expected ':' after a key");
    CHECK(error_of("{a:1 b:2}") == "line 1, column 6: expected ',' or '}'");
    CHECK(error_of("[1 2]") == "line 1, column 4: expected ',' or ']'");
    CHECK(error_of("{\n  a: 1,\n  b: undefined\n}") == "line 3, column 6: not a JSON5 value");
    CHECK(error_of("/* open") == "line 1, column 1: a comment that never ends");
    CHECK(error_of("") == "line 1, column 1: a value is missing");
    CHECK(error_of("1 2") == "line 1, column 3: unexpected text after the value");
    CHECK(error_of("{\\x61: 1}") == "line 1, column 2: only \\u escapes are allowed in a key");
    CHECK(error_of(std::string(600, '[')) == "line 1, column 257: nested deeper than 256 levels");
}

namespace {

// Writes `v` as JSON5 in a random style: quotes of either kind, unquoted keys where they may be, hex for
// some integers, comments and odd whitespace between tokens, trailing commas.
struct styler {
    std::mt19937& rng;
    bool coin(int percent) { return static_cast<int>(rng() % 100) < percent; }
    std::string space() {
        static const char* pieces[] = {"",        " ",      "\n",       "\t",
                                       "\v",      "\f",     "\xC2\xA0", "\xE2\x80\xA8",
                                       "/* c */", "// c\n", "\r\n",     "\xEF\xBB\xBF"};
        std::string s;
        int n = static_cast<int>(rng() % 3);
        for (int i = 0; i < n; ++i)
            s += pieces[rng() % std::size(pieces)];
        return s;
    }
    std::string quoted(const std::string& s) {
        char q = coin(50) ? '\'' : '"';
        std::string out(1, q);
        for (unsigned char c : s) {
            if (c == static_cast<unsigned char>(q) || c == '\\')
                out += std::string("\\") + static_cast<char>(c);
            else if (c == '\n')
                out += coin(50) ? "\\n" : "\\u000a";
            else if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, coin(50) ? "\\x%02x" : "\\u%04X", c);
                out += buf;
            } else
                out += static_cast<char>(c);
        }
        return out + q;
    }
    static bool identifier(const std::string& k) {
        if (k.empty() || std::isdigit(static_cast<unsigned char>(k[0])))
            return false;
        for (char c : k)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '$')
                return false;
        return true;
    }
    std::string write(const json& v) {
        std::string s = space();
        if (v.is_object()) {
            s += "{";
            for (auto& [k, x] : v.items())
                s += space() + (identifier(k) && coin(60) ? k : quoted(k)) + space() + ":" + write(x) + ",";
            if (!v.empty() && !coin(50))
                s.pop_back();
            s += space() + "}";
        } else if (v.is_array()) {
            s += "[";
            for (const auto& x : v)
                s += write(x) + ",";
            if (!v.empty() && !coin(50))
                s.pop_back();
            s += space() + "]";
        } else if (v.is_string()) {
            s += quoted(v.get<std::string>());
        } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0 && coin(30)) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v.get<std::int64_t>()));
            s += buf;
        } else if (v.is_number_integer() && v.get<std::int64_t>() > 0 && coin(20)) {
            s += "+" + v.dump();
        } else {
            s += v.dump();
        }
        return s + space();
    }
};

json random_value(std::mt19937& rng, int depth) {
    int kind = static_cast<int>(rng() % (depth > 4 ? 5 : 7));
    switch (kind) {
    case 0:
        return nullptr;
    case 1:
        return rng() % 2 == 0;
    case 2:
        return static_cast<std::int64_t>(rng() % 2000000) - 1000000;
    case 3:
        return static_cast<double>(rng() % 100000) / 64.0;
    case 4: {
        static const char* words[] = {"",         "a",           "ключ",     "😀",  "tab\there", "line\nbreak",
                                      "quote'\"", "back\\slash", "\x01\x1f", "$x", "_y9"};
        return std::string(words[rng() % std::size(words)]) + std::to_string(rng() % 10);
    }
    case 5: {
        json a = json::array();
        for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i)
            a.push_back(random_value(rng, depth + 1));
        return a;
    }
    default: {
        json o = json::object();
        for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i)
            o[random_value(rng, 99).is_string() ? "k" + std::to_string(rng() % 50)
                                                : "$k" + std::to_string(i)] = random_value(rng, depth + 1);
        return o;
    }
    }
}

} // namespace

TEST_CASE("json5: 3,000 random documents in random styles read back to their values") {
    std::mt19937 rng(20261202);
    styler style{rng};
    for (int i = 0; i < 3000; ++i) {
        json v = random_value(rng, 0);
        std::string text = style.write(v);
        json back;
        try {
            back = parse(text);
        } catch (const ag::json5::parse_error& e) {
            FAIL("could not read " << text << ": " << e.what());
        }
        REQUIRE_MESSAGE(back == v, text);
    }
}

TEST_CASE("json5: mangled documents end in a value or a parse_error, never anything else") {
    std::mt19937 rng(7);
    styler style{rng};
    int errors = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string text = style.write(random_value(rng, 0));
        for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n && !text.empty(); ++k) {
            std::size_t at = rng() % text.size();
            switch (rng() % 3) {
            case 0:
                text.erase(at, 1);
                break;
            case 1:
                text.insert(at, 1, "{}[]:,'\"\\/*x0.+-eE\n\x80\xff"[rng() % 22]);
                break;
            default:
                text[at] = static_cast<char>(rng() % 256);
            }
        }
        try {
            parse(text);
        } catch (const ag::json5::parse_error&) {
            ++errors;
        }
    }
    CHECK(errors > 5000);
}

TEST_CASE("json5: nesting 256 deep is read, 257 is not; nesting_depth counts brackets outside strings") {
    CHECK_NOTHROW(parse(std::string(256, '[') + std::string(256, ']')));
    CHECK(error_of(std::string(257, '[') + std::string(257, ']')) ==
          "line 1, column 257: nested deeper than 256 levels");
    using ag::json5::nesting_depth;
    CHECK(nesting_depth(R"({"a": [1, {"b": "[[[{"}], 'c': '{{\'{{', // [[[
                        /* {{{ */ d: {}})",
                        256) == 3);
    CHECK(nesting_depth(R"({"a": "\"[[["})", 256) == 1);
    CHECK(nesting_depth("", 256) == 0);
    // It stops counting once past the limit: 12,000 levels cost no more than 257.
    CHECK(nesting_depth(std::string(12000, '[') + std::string(12000, ']'), 256) == 257);
}

namespace {

using ag::json5::remove_member;
using ag::json5::set_member;

// The file the security review used: every JSON5 feature a plain-JSON rewrite loses.
const std::string operators_file = R"(// OpenClaw config, written by hand
{
  /* the gateway */
  gateway: {
    mode: 'local', // single quotes
    port: 18790,
    trustedProxies: ['10.0.0.1',],
    'auth': {token: "it's \"mine\"",},
  },
  limits: {max: Infinity, min: -Infinity, ratio: NaN, big: 12345678901234567890, hex: 0xFF, plus: +1,},
  "quoted key": "v", // the end
}
)";

// Checks that `after` is `before` with the bytes [from, to) of `before` replaced: the prefix and the suffix
// are byte for byte the same.
void only_changed(const std::string& before, const std::string& after, std::size_t from, std::size_t to) {
    REQUIRE(after.size() >= from + (before.size() - to));
    CHECK(after.substr(0, from) == before.substr(0, from));
    CHECK(after.substr(after.size() - (before.size() - to)) == before.substr(to));
}

} // namespace

TEST_CASE("json5: set_member replaces only the value's bytes; comments, Infinity, NaN, big integers stay") {
    const std::string& text = operators_file;
    json proxies = {"10.0.0.1", "127.0.0.1", "::1"};
    std::string out = set_member(text, {"gateway", "trustedProxies"}, proxies);
    std::size_t from = text.find("['10.0.0.1',]");
    only_changed(text, out, from, from + std::string("['10.0.0.1',]").size());
    CHECK(out.substr(from).starts_with(R"([
      "10.0.0.1",
      "127.0.0.1",
      "::1"
    ],
    'auth')"));
    json v = parse(out);
    CHECK(v["gateway"]["trustedProxies"] == proxies);
    CHECK(v["limits"]["big"] == 12345678901234567890ULL);
    CHECK(std::isinf(v["limits"]["max"].get<double>()));
    CHECK(std::isnan(v["limits"]["ratio"].get<double>()));
    CHECK(v["gateway"]["auth"]["token"] == "it's \"mine\"");

    // A scalar in a one-line object.
    out = set_member(text, {"limits", "hex"}, 16);
    from = text.find("0xFF");
    only_changed(text, out, from, from + 4);
    CHECK(parse(out)["limits"]["hex"] == 16);
    // A key written in quotes, found by its name.
    out = set_member(text, {"gateway", "auth", "token"}, "new");
    from = text.find(R"("it's)");
    only_changed(text, out, from, text.find(",},\n  },"));
    CHECK(parse(out)["gateway"]["auth"] == json{{"token", "new"}});
}

TEST_CASE("json5: set_member adds a missing member after the last one, with its parents") {
    const std::string& text = operators_file;
    // A new top-level section: after the last member and the comment ending its line, trailing comma kept,
    // its key quoted as the member before it.
    json telegram = {{"botToken", "T"}, {"dmPolicy", "pairing"}};
    std::string out = set_member(text, {"channels", "telegram"}, telegram);
    std::size_t at = text.find("// the end") + std::string("// the end").size();
    only_changed(text, out, at, at);
    CHECK(out.substr(at) == R"(
  "channels": {
    "telegram": {
      "botToken": "T",
      "dmPolicy": "pairing"
    }
  },
}
)");
    json v = parse(out);
    CHECK(v["channels"]["telegram"] == telegram);
    CHECK(v["limits"]["big"] == 12345678901234567890ULL);

    // Into an existing section of one line, without a trailing comma.
    out = set_member("{\"a\": {\"x\": 1}}", {"a", "y"}, json::array({1, 2}));
    CHECK(out == "{\"a\": {\"x\": 1, \"y\": [1,2]}}");
    // A member with no trailing comma gets one; the comment ending its line stays on its line.
    out = set_member("{\n\t\"a\": 1 // one\n}\n", {"b"}, json{{"c", true}});
    CHECK(out == "{\n\t\"a\": 1, // one\n\t\"b\": {\n\t\t\"c\": true\n\t}\n}\n");
    // Empty objects, CRLF files, a parent that is not an object.
    CHECK(set_member("{}", {"a", "b"}, 1) == "{\n  \"a\": {\n    \"b\": 1\n  }\n}");
    CHECK(set_member("{\r\n  x: {\r\n  },\r\n}\r\n", {"x", "k"}, "v") ==
          "{\r\n  x: {\r\n    k: \"v\"\r\n  },\r\n}\r\n");
    CHECK(set_member("{a: null, b: 2}", {"a", "k"}, 1) == "{a: {\"k\":1}, b: 2}");
    // A later duplicate is the one a reader keeps, so the one edited.
    CHECK(set_member("{a: 1, a: 2}", {"a"}, 3) == "{a: 1, a: 3}");
    CHECK_THROWS_AS(set_member("[1]", {"a"}, 1), ag::json5::parse_error);
    CHECK_THROWS_AS(set_member("{a: }", {"a"}, 1), ag::json5::parse_error);
}

TEST_CASE("json5: remove_member takes the member, its comma and its line; the rest stays") {
    const std::string& text = operators_file;
    std::string out = remove_member(text, {"gateway", "trustedProxies"});
    std::size_t from = text.find("    trustedProxies");
    only_changed(text, out, from, text.find("    'auth'"));
    CHECK_FALSE(parse(out)["gateway"].contains("trustedProxies"));
    // The last member without a comma takes the comma before it.
    CHECK(remove_member("{\n  a: 1, // one\n  b: 2\n}", {"b"}) == "{\n  a: 1 // one\n}");
    CHECK(remove_member("{a: 1, b: 2}", {"b"}) == "{a: 1}");
    CHECK(remove_member("{a: 1, b: 2}", {"a"}) == "{b: 2}");
    CHECK(remove_member("{\"c\": {\"t\": {\"x\": 1}}}", {"c", "t"}) == "{\"c\": {}}");
    CHECK(remove_member("{a: 1, a: 2, b: 3}", {"a"}) == "{b: 3}");
    CHECK(remove_member(text, {"channels", "telegram"}) == text);
    CHECK(remove_member(text, {"gateway", "port", "x"}) == text);
}

TEST_CASE("json5: random edits of random documents in random styles read back as the edited value") {
    std::mt19937 rng(20261207);
    styler style{rng};
    for (int i = 0; i < 2000; ++i) {
        json v = json::object();
        for (int k = 0, n = static_cast<int>(rng() % 4); k < n; ++k)
            v["k" + std::to_string(rng() % 5)] = random_value(rng, 1);
        std::string text = style.write(v);
        // A path of up to three keys, each an existing member or a new one.
        std::vector<std::string> path;
        const json* at = &v;
        for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
            std::string key = "k" + std::to_string(rng() % 5);
            if (at && at->is_object() && !at->empty() && rng() % 2 == 0)
                key = std::next(at->begin(), static_cast<long>(rng() % at->size())).key();
            path.push_back(key);
            at = at && at->is_object() && at->contains(key) ? &(*at)[key] : nullptr;
        }
        json::json_pointer pointer;
        for (const auto& key : path)
            pointer /= key;
        std::string out;
        json expected = v;
        if (rng() % 3 == 0) {
            out = remove_member(text, path);
            if (expected.contains(pointer.parent_pointer()) && expected[pointer.parent_pointer()].is_object())
                expected[pointer.parent_pointer()].erase(path.back());
        } else {
            json value = random_value(rng, 2);
            out = set_member(text, path, value);
            // The parents that are not objects become objects (nlohmann's pointer writes would not).
            json* cur = &expected;
            for (std::size_t k = 0; k + 1 < path.size(); ++k) {
                if (!cur->contains(path[k]) || !(*cur)[path[k]].is_object())
                    (*cur)[path[k]] = json::object();
                cur = &(*cur)[path[k]];
            }
            (*cur)[path.back()] = value;
        }
        json back;
        try {
            back = parse(out);
        } catch (const ag::json5::parse_error& e) {
            FAIL("could not read " << out << " (from " << text << "): " << e.what());
        }
        REQUIRE_MESSAGE(back == expected, text << "\n→\n" << out);
    }
}
