#include "handlers/upload_body.hpp"

#include "gateway/request.hpp"
#include "util/text.hpp"

#include <nlohmann/json.hpp>

#include <cstring>

namespace ag {
namespace {

bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// A JSON string without escapes starting after the opening quote at `pos`; nullopt means "use the full
// parser".
std::optional<std::string_view> plain_string(const std::string& s, std::size_t& pos) {
    const char* begin = s.data() + pos;
    auto quote = s.find('"', pos);
    if (quote == std::string::npos)
        return std::nullopt;
    const char* end = s.data() + quote;
    auto len = static_cast<std::size_t>(end - begin);
    if (std::memchr(begin, '\\', len))
        return std::nullopt;
    // Raw control characters are not allowed in JSON strings; a branch-free minimum keeps this at memory
    // speed.
    unsigned char lowest = 0xFF;
    for (std::size_t i = 0; i < len; ++i)
        lowest = std::min(lowest, static_cast<unsigned char>(begin[i]));
    if (len && lowest < 0x20)
        return std::nullopt;
    pos += len + 1;
    return std::string_view(begin, len);
}

bool fast_parse(const std::string& s, upload_fields& out) {
    std::size_t i = 0;
    auto skip = [&] {
        while (i < s.size() && is_ws(s[i]))
            ++i;
    };
    skip();
    if (i >= s.size() || s[i] != '{')
        return false;
    ++i;
    skip();
    if (i < s.size() && s[i] == '}') {
        ++i;
        skip();
        return i == s.size();
    }
    for (;;) {
        skip();
        if (i >= s.size() || s[i] != '"')
            return false;
        ++i;
        auto key = plain_string(s, i);
        if (!key)
            return false;
        skip();
        if (i >= s.size() || s[i] != ':')
            return false;
        ++i;
        skip();
        if (i >= s.size() || s[i] != '"')
            return false; // another value type: let the full parser judge it
        ++i;
        auto value = plain_string(s, i);
        if (!value)
            return false;
        if (*key == "filename") {
            if (text::to_valid_utf8(*value) != *value)
                return false;
            out.filename = std::string(*value);
        } else if (*key == "contentBase64") {
            out.body_content = *value;
        }
        skip();
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i < s.size() && s[i] == '}') {
            ++i;
            skip();
            return i == s.size();
        }
        return false;
    }
}

} // namespace

upload_fields parse_upload_body(const std::string& body) {
    upload_fields out;
    if (fast_parse(body, out))
        return out;
    out = upload_fields{};
    nlohmann::json j = parse_json_object(body); // throws the standard 400 "Invalid JSON: ..."
    if (auto f = j.find("filename"); f != j.end() && f->is_string())
        out.filename = f->get<std::string>();
    if (auto c = j.find("contentBase64"); c != j.end() && c->is_string()) {
        out.owned_content = c->get<std::string>();
    }
    return out;
}

} // namespace ag
