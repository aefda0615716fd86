#include "util/json5.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ag::json5 {
namespace {

using nlohmann::json;
constexpr int max_depth = 256; // levels of objects and arrays

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class parser {
public:
    explicit parser(std::string_view t)
        : t_(t) {}

    json document() {
        // A UTF-8 byte order mark is whitespace to JSON5.
        skip_space();
        json v = value(0);
        skip_space();
        if (i_ < t_.size())
            fail("unexpected text after the value");
        return v;
    }

    // One member of an object, as byte offsets into the text.
    struct member_span {
        std::string key;
        std::size_t begin = 0;                      // the key's first byte
        std::size_t value_begin = 0, value_end = 0; // the value's bytes
        std::size_t comma = std::string_view::npos; // the ',' after the value, if any
    };
    struct object_span {
        std::size_t open = 0, close = 0; // the '{' and the '}'
        std::vector<member_span> members;
    };

    // The members of the object whose '{' is at `at`, in a text already read whole by document().
    object_span object_at(std::size_t at) {
        i_ = at;
        object_span o;
        o.open = at;
        ++i_; // {
        skip_space();
        if (take('}')) {
            o.close = i_ - 1;
            return o;
        }
        while (true) {
            skip_space();
            member_span m;
            m.begin = i_;
            if (i_ < t_.size() && (t_[i_] == '"' || t_[i_] == '\''))
                m.key = string_text();
            else
                m.key = identifier();
            skip_space();
            if (!take(':'))
                fail("expected ':' after a key");
            skip_space();
            m.value_begin = i_;
            value(1);
            m.value_end = i_;
            skip_space();
            if (take('}')) {
                o.close = i_ - 1;
                o.members.push_back(std::move(m));
                return o;
            }
            if (!take(','))
                fail("expected ',' or '}'");
            m.comma = i_ - 1;
            o.members.push_back(std::move(m));
            skip_space();
            if (take('}')) {
                o.close = i_ - 1;
                return o;
            }
        }
    }

    // Where the first value starts (after a byte order mark, whitespace and comments).
    std::size_t start() {
        i_ = 0;
        skip_space();
        return i_;
    }

private:
    [[noreturn]] void fail(const std::string& what) const { fail_at(i_, what); }
    [[noreturn]] void fail_at(std::size_t at, const std::string& what) const {
        std::size_t line = 1, col = 1;
        for (std::size_t k = 0; k < at && k < t_.size(); ++k) {
            if (t_[k] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        throw parse_error("line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + what,
                          line, col);
    }

    // The code point at i_ and its length in bytes (0 at the end); invalid UTF-8 fails.
    std::pair<std::uint32_t, std::size_t> peek_cp(std::size_t at) const {
        if (at >= t_.size())
            return {0, 0};
        auto b = static_cast<unsigned char>(t_[at]);
        if (b < 0x80)
            return {b, 1};
        std::size_t n = b >= 0xF0 && b < 0xF8 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
        if (n == 0 || at + n > t_.size())
            fail_at(at, "invalid UTF-8");
        std::uint32_t cp = b & (0x7F >> n);
        for (std::size_t k = 1; k < n; ++k) {
            auto c = static_cast<unsigned char>(t_[at + k]);
            if ((c & 0xC0) != 0x80)
                fail_at(at, "invalid UTF-8");
            cp = (cp << 6) | (c & 0x3F);
        }
        static constexpr std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            fail_at(at, "invalid UTF-8");
        return {cp, n};
    }

    static bool is_space(std::uint32_t cp) {
        switch (cp) {
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
        case ' ':
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
        case 0xFEFF:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
        }
    }

    void skip_space() {
        while (i_ < t_.size()) {
            if (t_[i_] == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '/') {
                while (i_ < t_.size() && t_[i_] != '\n' && t_[i_] != '\r') {
                    auto [cp, n] = peek_cp(i_);
                    if (cp == 0x2028 || cp == 0x2029)
                        break;
                    i_ += n;
                }
                continue;
            }
            if (t_[i_] == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '*') {
                auto end = t_.find("*/", i_ + 2);
                if (end == std::string_view::npos)
                    fail("a comment that never ends");
                i_ = end + 2;
                continue;
            }
            auto [cp, n] = peek_cp(i_);
            if (!is_space(cp))
                return;
            i_ += n;
        }
    }

    bool take(char c) {
        if (i_ < t_.size() && t_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }

    json value(int depth) {
        if (i_ >= t_.size())
            fail("a value is missing");
        char c = t_[i_];
        if ((c == '{' || c == '[') && depth >= max_depth)
            fail("nested deeper than 256 levels");
        if (c == '{')
            return object(depth);
        if (c == '[')
            return array(depth);
        if (c == '"' || c == '\'')
            return string();
        if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'))
            return number();
        if (word("true"))
            return true;
        if (word("false"))
            return false;
        if (word("null"))
            return nullptr;
        if (word("Infinity"))
            return std::numeric_limits<double>::infinity();
        if (word("NaN"))
            return std::numeric_limits<double>::quiet_NaN();
        fail("not a JSON5 value");
    }

    // A literal word, not followed by an identifier character ("nullx" is not null).
    bool word(std::string_view w) {
        if (t_.substr(i_, w.size()) != w)
            return false;
        auto after = i_ + w.size();
        if (after < t_.size()) {
            auto [cp, n] = peek_cp(after);
            if (identifier_part(cp))
                return false;
        }
        i_ = after;
        return true;
    }

    static bool identifier_start(std::uint32_t cp) {
        return cp == '$' || cp == '_' || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
               (cp >= 0x80 && !is_space(cp));
    }
    static bool identifier_part(std::uint32_t cp) {
        return identifier_start(cp) || (cp >= '0' && cp <= '9') || cp == 0x200C || cp == 0x200D;
    }

    json object(int depth) {
        ++i_; // {
        json out = json::object();
        skip_space();
        if (take('}'))
            return out;
        while (true) {
            skip_space();
            std::string key;
            if (i_ < t_.size() && (t_[i_] == '"' || t_[i_] == '\''))
                key = string_text();
            else
                key = identifier();
            skip_space();
            if (!take(':'))
                fail("expected ':' after a key");
            skip_space();
            out[key] = value(depth + 1);
            skip_space();
            if (take('}'))
                return out;
            if (!take(','))
                fail("expected ',' or '}'");
            skip_space();
            if (take('}')) // a trailing comma
                return out;
        }
    }

    json array(int depth) {
        ++i_; // [
        json out = json::array();
        skip_space();
        if (take(']'))
            return out;
        while (true) {
            skip_space();
            out.push_back(value(depth + 1));
            skip_space();
            if (take(']'))
                return out;
            if (!take(','))
                fail("expected ',' or ']'");
            skip_space();
            if (take(']'))
                return out;
        }
    }

    std::uint32_t hex_digits(std::size_t n) {
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < n; ++k, ++i_) {
            if (i_ >= t_.size())
                fail("an escape is cut short");
            char c = t_[i_];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                fail("not a hexadecimal digit in an escape");
            v = v * 16 + static_cast<std::uint32_t>(d);
        }
        return v;
    }

    // \uXXXX, with a following \uXXXX for a surrogate pair (i_ after the 'u').
    std::uint32_t unicode_escape() {
        std::size_t at = i_;
        std::uint32_t cp = hex_digits(4);
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            fail_at(at, "a lone low surrogate");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (t_.substr(i_, 2) != "\\u")
                fail_at(at, "a high surrogate without its low half");
            i_ += 2;
            std::uint32_t lo = hex_digits(4);
            if (lo < 0xDC00 || lo > 0xDFFF)
                fail_at(at, "a high surrogate without its low half");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        return cp;
    }

    std::string identifier() {
        std::string out;
        bool first = true;
        while (i_ < t_.size()) {
            std::uint32_t cp = 0;
            std::size_t at = i_;
            if (t_[i_] == '\\') {
                if (i_ + 1 >= t_.size() || t_[i_ + 1] != 'u')
                    fail("only \\u escapes are allowed in a key");
                i_ += 2;
                cp = unicode_escape();
                if (!(first ? identifier_start(cp) : identifier_part(cp)))
                    fail_at(at, "an escape that is not an identifier character");
            } else {
                auto [c, n] = peek_cp(i_);
                if (!(first ? identifier_start(c) : identifier_part(c)))
                    break;
                cp = c;
                i_ += n;
            }
            append_utf8(out, cp);
            first = false;
        }
        if (out.empty())
            fail("expected a key (a string or an identifier)");
        return out;
    }

    json string() { return string_text(); }

    std::string string_text() {
        char quote = t_[i_++];
        std::string out;
        while (true) {
            if (i_ >= t_.size())
                fail("a string that never ends");
            char c = t_[i_];
            if (c == quote) {
                ++i_;
                return out;
            }
            if (c == '\n' || c == '\r')
                fail("a line break inside a string (escape it with a backslash)");
            if (static_cast<unsigned char>(c) < 0x20)
                fail("a control character inside a string");
            if (c != '\\') {
                auto [cp, n] = peek_cp(i_);
                (void)cp;
                out.append(t_.substr(i_, n));
                i_ += n;
                continue;
            }
            ++i_;
            if (i_ >= t_.size())
                fail("a string that never ends");
            char e = t_[i_];
            switch (e) {
            case 'b':
                out += '\b';
                ++i_;
                break;
            case 'f':
                out += '\f';
                ++i_;
                break;
            case 'n':
                out += '\n';
                ++i_;
                break;
            case 'r':
                out += '\r';
                ++i_;
                break;
            case 't':
                out += '\t';
                ++i_;
                break;
            case 'v':
                out += '\v';
                ++i_;
                break;
            case '0':
                ++i_;
                if (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9')
                    fail("\\0 followed by a digit (octal escapes are not JSON5)");
                out += '\0';
                break;
            case 'x':
                ++i_;
                append_utf8(out, hex_digits(2));
                break;
            case 'u':
                ++i_;
                append_utf8(out, unicode_escape());
                break;
            case '\r': // line continuations: the break is dropped
                ++i_;
                take('\n');
                break;
            case '\n':
                ++i_;
                break;
            default: {
                if (e >= '1' && e <= '9')
                    fail("a digit escape (octal escapes are not JSON5)");
                auto [cp, n] = peek_cp(i_);
                i_ += n;
                if (cp != 0x2028 && cp != 0x2029) // escaped U+2028/9 continue the line too
                    append_utf8(out, cp);
            }
            }
        }
    }

    json number() {
        std::size_t start = i_;
        bool negative = false;
        if (t_[i_] == '+' || t_[i_] == '-') {
            negative = t_[i_] == '-';
            ++i_;
        }
        if (word("Infinity"))
            return negative ? -std::numeric_limits<double>::infinity()
                            : std::numeric_limits<double>::infinity();
        if (word("NaN"))
            return std::numeric_limits<double>::quiet_NaN();
        if (t_.substr(i_, 2) == "0x" || t_.substr(i_, 2) == "0X") {
            i_ += 2;
            std::size_t digits = i_;
            std::uint64_t v = 0;
            double big = 0;
            while (i_ < t_.size() && std::isxdigit(static_cast<unsigned char>(t_[i_]))) {
                int d = std::isdigit(static_cast<unsigned char>(t_[i_])) ? t_[i_] - '0'
                                                                         : std::tolower(t_[i_]) - 'a' + 10;
                v = v * 16 + static_cast<std::uint64_t>(d);
                big = big * 16 + d;
                ++i_;
            }
            if (i_ == digits)
                fail("0x without hexadecimal digits");
            end_of_number();
            if (i_ - digits > 15)
                return negative ? -big : big;
            return negative ? json(-static_cast<std::int64_t>(v)) : json(v);
        }
        bool integral = true;
        std::size_t int_digits = 0;
        if (i_ < t_.size() && t_[i_] == '0' && i_ + 1 < t_.size() &&
            std::isdigit(static_cast<unsigned char>(t_[i_ + 1])))
            fail("a number with a leading zero");
        while (i_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[i_]))) {
            ++i_;
            ++int_digits;
        }
        std::size_t frac_digits = 0;
        if (take('.')) {
            integral = false;
            while (i_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[i_]))) {
                ++i_;
                ++frac_digits;
            }
        }
        if (int_digits == 0 && frac_digits == 0)
            fail_at(start, "not a number");
        if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
            integral = false;
            ++i_;
            if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-'))
                ++i_;
            std::size_t exp_digits = i_;
            while (i_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[i_])))
                ++i_;
            if (i_ == exp_digits)
                fail("an exponent without digits");
        }
        end_of_number();
        std::string text(t_.substr(start, i_ - start));
        if (text.front() == '+')
            text.erase(0, 1);
        // nlohmann reads the usual form; the JSON5 extras (".5", "5.") are read as doubles here.
        if (integral) {
            json v = json::parse(text, nullptr, false);
            if (!v.is_discarded())
                return v;
        }
        return std::strtod(text.c_str(), nullptr);
    }

    void end_of_number() {
        if (i_ < t_.size()) {
            auto [cp, n] = peek_cp(i_);
            if (identifier_part(cp))
                fail("unexpected character after a number");
        }
    }

    std::string_view t_;
    std::size_t i_ = 0;
};

// The text editor: spans found by the reader above, bytes outside them copied as they are.

constexpr auto npos = std::string_view::npos;

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

std::size_t line_start(std::string_view t, std::size_t at) {
    while (at > 0 && t[at - 1] != '\n')
        --at;
    return at;
}

// The blanks that begin the line holding `at`.
std::string indent_of(std::string_view t, std::size_t at) {
    std::size_t from = line_start(t, at);
    std::size_t to = from;
    while (to < t.size() && is_blank(t[to]))
        ++to;
    return std::string(t.substr(from, to - from));
}

// Whether only blanks come before `at` on its line.
bool starts_line(std::string_view t, std::size_t at) {
    for (std::size_t k = line_start(t, at); k < at; ++k)
        if (!is_blank(t[k]))
            return false;
    return true;
}

// Where the line comment at `i` ends: a line break, U+2028 or U+2029 (E2 80 A8/A9), or the end.
std::size_t line_comment_end(std::string_view t, std::size_t i) {
    for (; i < t.size(); ++i)
        if (t[i] == '\r' || t[i] == '\n' || t.compare(i, 3, "\xE2\x80\xA8") == 0 ||
            t.compare(i, 3, "\xE2\x80\xA9") == 0)
            return i;
    return t.size();
}

// From `from`, past blanks and comments that stay on the line: the line break (or the end of the text) when
// nothing else follows on the line, else npos.
std::size_t line_end_after(std::string_view t, std::size_t from) {
    std::size_t i = from;
    while (i < t.size()) {
        char c = t[i];
        if (is_blank(c)) {
            ++i;
        } else if (c == '\r' || c == '\n') {
            return i;
        } else if (t.compare(i, 2, "//") == 0) {
            return line_comment_end(t, i);
        } else if (t.compare(i, 2, "/*") == 0) {
            auto e = t.find("*/", i + 2);
            if (e == npos || t.substr(i, e - i).find('\n') != npos)
                return npos;
            i = e + 2;
        } else {
            return npos;
        }
    }
    return t.size();
}

// Past the line break at `at` ("\r\n" or "\n").
std::size_t after_break(std::string_view t, std::size_t at) {
    if (at < t.size() && t[at] == '\r')
        ++at;
    if (at < t.size() && t[at] == '\n')
        ++at;
    return at;
}

bool identifier_like(const std::string& k) {
    if (k.empty() || (k[0] >= '0' && k[0] <= '9'))
        return false;
    return std::all_of(k.begin(), k.end(), [](char c) {
        return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9');
    });
}

// How the document writes things: its line break, its indentation step, whether its keys are quoted.
struct layout {
    std::string nl = "\n";
    std::string unit = "  ";
    bool unquoted = false;
};

bool quoted_at(std::string_view t, std::size_t at) {
    return t[at] == '"' || t[at] == '\'';
}

std::string key_text(const std::string& key, bool unquoted) {
    return unquoted && identifier_like(key) ? key : json(key).dump();
}

// `v` as JSON; on lines of its own, its continuation lines start at `base`.
std::string render(const json& v, const std::string& base, const layout& l, bool multiline) {
    if (!multiline)
        return v.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string s = v.dump(static_cast<int>(l.unit.size()), l.unit[0] == '\t' ? '\t' : ' ', false,
                           json::error_handler_t::replace);
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\n')
            out += l.nl + base;
        else
            out += c;
    }
    return out;
}

// A document read whole, with its top object found.
struct document {
    std::string_view t;
    parser p;
    std::size_t top = 0;
    layout l;

    explicit document(std::string_view text)
        : t(text)
        , p(text) {
        p.document();
        top = p.start();
        if (t[top] != '{')
            throw parse_error("line 1, column 1: the config must be an object at the top", 1, 1);
        auto o = p.object_at(top);
        if (t.find("\r\n") != npos)
            l.nl = "\r\n";
        if (!o.members.empty()) {
            const auto& first = o.members.front();
            l.unquoted = !quoted_at(t, first.begin);
            std::string mine = indent_of(t, first.begin);
            std::string outer = indent_of(t, o.open);
            if (starts_line(t, first.begin) && mine.size() > outer.size() && mine.starts_with(outer))
                l.unit = mine.substr(outer.size());
        }
    }

    // The last member named `key` (the one a reader keeps), or null.
    static const parser::member_span* find(const parser::object_span& o, const std::string& key) {
        const parser::member_span* found = nullptr;
        for (const auto& m : o.members)
            if (m.key == key)
                found = &m; // a later one wins
        return found;
    }
};

std::string replace_value(std::string_view t, const parser::member_span& m, const json& v, const layout& l) {
    std::string out(t.substr(0, m.value_begin));
    out += render(v, indent_of(t, m.begin), l, starts_line(t, m.begin));
    out += t.substr(m.value_end);
    return out;
}

std::string insert_member(std::string_view t, const parser::object_span& o, const std::string& key,
                          const json& v, const layout& l) {
    std::string out;
    if (o.members.empty()) {
        std::string base = indent_of(t, o.open);
        std::string inner = base + l.unit;
        std::string member = key_text(key, l.unquoted) + ": " + render(v, inner, l, true);
        std::size_t put = line_end_after(t, o.open + 1);
        if (t.substr(o.open + 1, o.close - o.open - 1).find('\n') != npos && put != npos && put < o.close) {
            // `{ // note` and the `}` on a later line: the member goes on a line of its own between them.
            out.append(t.substr(0, put)).append(l.nl + inner + member).append(t.substr(put));
        } else {
            out.append(t.substr(0, o.open + 1))
                .append(l.nl + inner + member + l.nl + base)
                .append(t.substr(o.open + 1));
        }
        return out;
    }
    const auto& last = o.members.back();
    std::string member = key_text(key, !quoted_at(t, last.begin)) + ": ";
    if (!starts_line(t, last.begin)) {
        // `{a: 1, b: 2}`: on the same line.
        member += render(v, "", l, false);
        if (last.comma == npos)
            out.append(t.substr(0, last.value_end)).append(", " + member).append(t.substr(last.value_end));
        else
            out.append(t.substr(0, last.comma + 1))
                .append(" " + member + ",")
                .append(t.substr(last.comma + 1));
        return out;
    }
    // On a line of its own after the last member's line (and the comment that ends that line).
    std::string base = indent_of(t, last.begin);
    member += render(v, base, l, true);
    std::size_t after = last.comma != npos ? last.comma + 1 : last.value_end;
    std::size_t eol = line_end_after(t, after);
    std::size_t put = eol != npos ? eol : after;
    if (last.comma == npos) {
        out.append(t.substr(0, last.value_end))
            .append(",")
            .append(t.substr(last.value_end, put - last.value_end));
        out.append(l.nl + base + member).append(t.substr(put));
    } else {
        // The document writes trailing commas: so does the new member.
        out.append(t.substr(0, put)).append(l.nl + base + member + ",").append(t.substr(put));
    }
    return out;
}

// `t` without the member `m`, which is member `index` of `o`.
std::string erase_member(std::string_view t, const parser::object_span& o, std::size_t index) {
    const auto& m = o.members[index];
    const parser::member_span* prev = index > 0 ? &o.members[index - 1] : nullptr;
    // The last member without a comma takes the one before it along (strict JSON has no trailing commas).
    std::size_t prev_comma = m.comma == npos && prev ? prev->comma : npos;
    std::size_t after = m.comma != npos ? m.comma + 1 : m.value_end;
    std::size_t begin = m.begin;
    std::size_t end = after;
    std::size_t eol = line_end_after(t, after);
    if (starts_line(t, m.begin) && eol != npos && eol < t.size()) {
        // The member had its line (and the comment ending it) to itself: the line goes.
        begin = line_start(t, m.begin);
        end = after_break(t, eol);
    } else if (prev_comma != npos) {
        begin = prev_comma; // `{a: 1, b: 2}` → `{a: 1}`
        prev_comma = npos;
    } else if (m.comma != npos) {
        while (end < t.size() && is_blank(t[end])) // `{a: 1, b: 2}` → `{b: 2}`
            ++end;
    }
    std::string out;
    if (prev_comma != npos)
        out.append(t.substr(0, prev_comma)).append(t.substr(prev_comma + 1, begin - prev_comma - 1));
    else
        out.append(t.substr(0, begin));
    out.append(t.substr(end));
    return out;
}

} // namespace

json parse(std::string_view text) {
    return parser(text).document();
}

std::size_t nesting_depth(std::string_view t, std::size_t limit) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        if (c == '"' || c == '\'') {
            for (++i; i < t.size() && t[i] != c; ++i)
                if (t[i] == '\\')
                    ++i;
        } else if (c == '/' && t.compare(i, 2, "//") == 0) {
            i = line_comment_end(t, i);
        } else if (c == '/' && t.compare(i, 2, "/*") == 0) {
            i = t.find("*/", i + 2);
            if (i == npos)
                break;
            ++i;
        } else if (c == '{' || c == '[') {
            deepest = std::max(deepest, ++depth);
            if (deepest > limit)
                break;
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

std::string set_member(std::string_view text, const std::vector<std::string>& path, const json& value) {
    if (path.empty())
        throw std::invalid_argument("json5::set_member: an empty path");
    document d(text);
    std::size_t at = d.top;
    for (std::size_t k = 0; k < path.size(); ++k) {
        auto o = d.p.object_at(at);
        const auto* found = document::find(o, path[k]);
        if (found && k + 1 < path.size() && text[found->value_begin] == '{') {
            at = found->value_begin;
            continue;
        }
        // The value for path[k]: `value`, inside the objects the rest of the path names.
        json v = value;
        for (std::size_t j = path.size() - 1; j > k; --j) {
            json wrapped = json::object();
            wrapped[path[j]] = std::move(v);
            v = std::move(wrapped);
        }
        if (found)
            return replace_value(text, *found, v, d.l);
        return insert_member(text, o, path[k], v, d.l);
    }
    return std::string(text); // not reached
}

std::string remove_member(std::string_view text, const std::vector<std::string>& path) {
    if (path.empty())
        throw std::invalid_argument("json5::remove_member: an empty path");
    std::string out(text);
    // A duplicate key before the last is read no more once the last is gone: each goes, last first.
    while (true) {
        document d(out);
        std::size_t at = d.top;
        for (std::size_t k = 0; k + 1 < path.size(); ++k) {
            auto o = d.p.object_at(at);
            const auto* found = document::find(o, path[k]);
            if (!found || out[found->value_begin] != '{')
                return out;
            at = found->value_begin;
        }
        auto o = d.p.object_at(at);
        const auto* found = document::find(o, path.back());
        if (!found)
            return out;
        out = erase_member(out, o, static_cast<std::size_t>(found - o.members.data()));
    }
}

} // namespace ag::json5
