#include "util/json5.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ag::json5 {
namespace {

using nlohmann::json;
constexpr int max_depth = 512;

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
        if (depth > max_depth)
            fail("nested deeper than 512 levels");
        if (i_ >= t_.size())
            fail("a value is missing");
        char c = t_[i_];
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

} // namespace

json parse(std::string_view text) {
    return parser(text).document();
}

} // namespace ag::json5
