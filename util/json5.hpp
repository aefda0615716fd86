#pragma once
// A JSON5 reader (https://spec.json5.org, 1.0.0) producing nlohmann values: what OpenClaw's openclaw.json is
// written in. Comments (// and /* */), trailing commas, unquoted keys (ECMAScript identifier names, \u
// escapes included; any non-ASCII letter is taken as an identifier character), single-quoted strings, the
// escapes \x, \v, \0 and line continuations, hexadecimal numbers, leading or trailing decimal points, a
// leading '+', Infinity and NaN (as doubles), and JSON5's wider whitespace. Strict otherwise: leading zeros,
// octal, unknown words, control characters in strings and lone surrogates are errors. A later duplicate key
// wins. Nesting is limited to 256 levels (docs/api.md §15: config files are data from outside).
//
// Also a text editor for JSON5 documents that keeps every byte outside the member it changes: comments, key
// order, layout and numbers JSON cannot hold (Infinity, NaN, big integers) stay as written.
#include <nlohmann/json_fwd.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

// The deepest nesting of objects and arrays in `text` (JSON or JSON5: brackets inside strings and comments do
// not count); counting stops once it passes `limit`. Cheap and bounded, for a check before any parse; it does
// not validate the text.
std::size_t nesting_depth(std::string_view text, std::size_t limit);

// `text` with the member at `path` (keys from the top object down) set to `value`, written as JSON and
// indented like its neighbours. A missing member is added after the last one of its object (missing parent
// objects with it); a parent that is not an object is replaced by one. Only the member's own bytes change
// (and a comma before an added member). A later duplicate key is the one edited, as it is the one read.
// Throws parse_error when `text` is not JSON5 or not an object at the top; std::invalid_argument for an
// empty path.
std::string set_member(std::string_view text, const std::vector<std::string>& path,
                       const nlohmann::json& value);

// `text` without the member at `path`, its comma, and its line when it had the line to itself; `text`
// unchanged when there is no such member. Throws as set_member.
std::string remove_member(std::string_view text, const std::vector<std::string>& path);

} // namespace ag::json5
