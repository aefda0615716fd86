// util/json5: the spec's features and edge cases, the errors, and random documents written in every JSON5
// style by a generator of their own (independent of the reader) read back to the values they were made from.
#include "util/json5.hpp"

#include <doctest/doctest.h>

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
    CHECK(error_of(std::string(600, '[')) == "line 1, column 514: nested deeper than 512 levels");
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
