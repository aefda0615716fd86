#pragma once
// A JSON5 reader (https://spec.json5.org, 1.0.0) producing nlohmann values: what OpenClaw's openclaw.json is
// written in. Comments (// and /* */), trailing commas, unquoted keys (ECMAScript identifier names, \u
// escapes included; any non-ASCII letter is taken as an identifier character), single-quoted strings, the
// escapes \x, \v, \0 and line continuations, hexadecimal numbers, leading or trailing decimal points, a
// leading '+', Infinity and NaN (as doubles), and JSON5's wider whitespace. Strict otherwise: leading zeros,
// octal, unknown words, control characters in strings and lone surrogates are errors. A later duplicate key
// wins. Nesting is limited to 512 levels.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace ag::json5 {

struct parse_error : std::runtime_error {
    parse_error(const std::string& what, std::size_t line_, std::size_t column_)
        : std::runtime_error(what)
        , line(line_)
        , column(column_) {}
    std::size_t line;   // 1-based
    std::size_t column; // 1-based, in bytes
};

// Throws parse_error ("line 3, column 7: expected ',' or '}'") for what is not one JSON5 value.
nlohmann::json parse(std::string_view text);

} // namespace ag::json5
