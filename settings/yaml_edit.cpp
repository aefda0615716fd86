#include "settings/yaml_edit.hpp"

#include "settings/config_file.hpp"

#include <algorithm>
#include <cstddef>
#include <nlohmann/json.hpp>

namespace ag::settings {
namespace {

struct line {
    std::size_t begin = 0, end = 0; // the line's bytes, without its break ("\n" or "\r\n")
    std::size_t next = 0;           // where the next line begins
    std::size_t indent = 0;
    bool blank = true; // only spaces, or a comment
};

struct member {
    std::size_t at = 0;    // its key's line
    std::size_t end = 0;   // the line after its value (blank and comment lines after it not included)
    std::string key;       // as read
    std::string key_text;  // as written
    std::string_view rest; // after the ':' on the key line, trimmed (a comment is no value)
};

// Lines [first, last) holding one block mapping whose keys are at `indent`.
struct region {
    std::size_t first = 0, last = 0, indent = 0;
};

class document {
public:
    explicit document(std::string_view t)
        : t_(t) {
        std::size_t at = 0;
        while (at < t.size()) {
            line l;
            l.begin = at;
            auto nl = t.find('\n', at);
            l.next = nl == std::string_view::npos ? t.size() : nl + 1;
            l.end = nl == std::string_view::npos ? t.size() : nl;
            if (l.end > l.begin && t[l.end - 1] == '\r') {
                --l.end;
                nl_ = "\r\n";
            }
            while (l.begin + l.indent < l.end && t[l.begin + l.indent] == ' ')
                ++l.indent;
            std::size_t first = l.begin + l.indent;
            l.blank = first == l.end || t[first] == '#';
            lines_.push_back(l);
            at = l.next;
        }
    }

    std::string_view t_;
    std::vector<line> lines_;
    std::string nl_ = "\n";

    std::string_view content(std::size_t i) const {
        const auto& l = lines_[i];
        return t_.substr(l.begin + l.indent, l.end - l.begin - l.indent);
    }
    std::size_t offset(std::size_t i) const { return i < lines_.size() ? lines_[i].begin : t_.size(); }

    // The document's indentation step: the first indented line after one that is not.
    std::size_t unit() const {
        for (std::size_t i = 1; i < lines_.size(); ++i)
            if (!lines_[i].blank && lines_[i].indent > 0) {
                for (std::size_t j = i; j-- > 0;)
                    if (!lines_[j].blank)
                        return lines_[j].indent < lines_[i].indent ? lines_[i].indent - lines_[j].indent : 2;
            }
        return 2;
    }

    // Reads a mapping's members; nullopt when its lines are not a plain block mapping.
    std::optional<std::vector<member>> members(const region& r) const {
        std::vector<member> out;
        std::size_t i = r.first;
        while (i < r.last) {
            if (lines_[i].blank) {
                ++i;
                continue;
            }
            if (lines_[i].indent != r.indent)
                return std::nullopt;
            member m;
            m.at = i;
            if (!key_of(content(i), m))
                return std::nullopt;
            // Its value: the lines indented deeper, and a block sequence at the key's own indentation.
            std::size_t end = i + 1;
            std::size_t j = i + 1;
            for (; j < r.last; ++j) {
                if (lines_[j].blank)
                    continue;
                auto c = content(j);
                bool sequence_item =
                    lines_[j].indent == r.indent && m.rest.empty() && (c == "-" || c.starts_with("- "));
                if (lines_[j].indent <= r.indent && !sequence_item)
                    break;
                end = j + 1;
            }
            m.end = end;
            out.push_back(std::move(m));
            i = end;
        }
        return out;
    }

    // The child mapping of `m`, when its value is one written as a block.
    std::optional<region> child(const member& m) const {
        if (!m.rest.empty())
            return std::nullopt;
        for (std::size_t i = m.at + 1; i < m.end; ++i) {
            if (lines_[i].blank)
                continue;
            auto c = content(i);
            if (lines_[i].indent <= lines_[m.at].indent || c == "-" || c.starts_with("- "))
                return std::nullopt;
            return region{m.at + 1, m.end, lines_[i].indent};
        }
        return std::nullopt;
    }

private:
    // `key:` at the start of `c`: the key as read and as written, and what follows on the line.
    static bool key_of(std::string_view c, member& m) {
        std::size_t colon = 0;
        if (c.empty())
            return false;
        if (c[0] == '"') {
            std::size_t k = 1;
            while (k < c.size() && c[k] != '"')
                k += c[k] == '\\' ? 2 : 1;
            if (k >= c.size())
                return false;
            auto key = nlohmann::json::parse(c.substr(0, k + 1), nullptr, false);
            if (!key.is_string())
                return false;
            m.key = key.get<std::string>();
            colon = k + 1;
        } else if (c[0] == '\'') {
            std::size_t k = 1;
            std::string key;
            while (true) {
                if (k >= c.size())
                    return false;
                if (c[k] == '\'') {
                    if (k + 1 < c.size() && c[k + 1] == '\'') {
                        key += '\'';
                        k += 2;
                        continue;
                    }
                    break;
                }
                key += c[k++];
            }
            m.key = key;
            colon = k + 1;
        } else {
            if (std::string_view("-?:,[]{}#&*!|>%@`").find(c[0]) != std::string_view::npos)
                return false;
            auto sep = c.find(": ");
            colon = sep == std::string_view::npos ? (c.ends_with(':') ? c.size() - 1 : c.npos) : sep;
            if (colon == c.npos)
                return false;
            auto key = c.substr(0, colon);
            while (!key.empty() && key.back() == ' ')
                key.remove_suffix(1);
            if (key.find(" #") != std::string_view::npos)
                return false;
            m.key = std::string(key);
            colon = key.size();
            while (colon < c.size() && c[colon] == ' ')
                ++colon;
        }
        if (colon >= c.size() || c[colon] != ':')
            return false;
        m.key_text = std::string(c.substr(0, colon));
        while (!m.key_text.empty() && m.key_text.back() == ' ')
            m.key_text.pop_back();
        auto rest = c.substr(colon + 1);
        if (!rest.empty() && rest[0] != ' ')
            return false; // `a:b` is a plain scalar, not a key
        while (!rest.empty() && rest[0] == ' ')
            rest.remove_prefix(1);
        while (!rest.empty() && rest.back() == ' ')
            rest.remove_suffix(1);
        if (rest.starts_with('#'))
            rest = {};
        m.rest = rest;
        return true;
    }
};

bool plain_key(const std::string& k) {
    return !k.empty() &&
           std::all_of(k.begin(), k.end(),
                       [](char c) {
                           return c == '_' || c == '-' || c == '.' || (c >= 'a' && c <= 'z') ||
                                  (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                       }) &&
           k[0] != '-' && k[0] != '.';
}

// `key: value` as lines at `indent`: a scalar (or an empty collection) on the key's line, a collection as a
// block below it, one step deeper.
std::string member_lines(const std::string& indent, const std::string& key_text, const nlohmann::json& v,
                         std::size_t unit, const std::string& nl) {
    std::string body = render(v, format::yaml);
    while (!body.empty() && body.back() == '\n')
        body.pop_back();
    if (!((v.is_object() || v.is_array()) && !v.empty()))
        return indent + key_text + ": " + body + nl;
    std::string out = indent + key_text + ":" + nl;
    std::string deeper = indent + std::string(unit, ' ');
    std::size_t at = 0;
    while (at <= body.size()) {
        auto end = body.find('\n', at);
        if (end == std::string::npos)
            end = body.size();
        out.append(deeper).append(body, at, end - at).append(nl);
        at = end + 1;
    }
    return out;
}

std::string spliced(std::string_view t, std::size_t from, std::size_t to, const std::string& with) {
    std::string out(t.substr(0, from));
    out += with;
    out += t.substr(to);
    return out;
}

} // namespace

std::optional<std::string> yaml_edit(std::string_view text, const std::vector<std::string>& path,
                                     const std::optional<nlohmann::json>& value) {
    if (path.empty())
        return std::nullopt;
    document d(text);
    for (std::size_t i = 0; i < d.lines_.size(); ++i) {
        auto c = d.content(i);
        if (d.lines_[i].indent == 0 && (c.starts_with("---") || c.starts_with("...") || c.starts_with("%")))
            return std::nullopt; // documents and directives: written anew
    }
    region r{0, d.lines_.size(), 0};
    for (const auto& line : d.lines_)
        if (!line.blank) {
            r.indent = line.indent;
            break;
        }
    const std::size_t unit = d.unit();
    const member* parent = nullptr;
    std::vector<member> parent_siblings;
    for (std::size_t k = 0; k < path.size(); ++k) {
        auto ms = d.members(r);
        if (!ms)
            return std::nullopt;
        const member* found = nullptr;
        for (const auto& m : *ms)
            if (m.key == path[k])
                found = &m; // the last, as a reader keeps it
        const bool leaf = k + 1 == path.size();
        if (found && !leaf) {
            if (auto c = d.child(*found)) {
                parent_siblings = *ms;
                parent = &*std::find_if(parent_siblings.begin(), parent_siblings.end(),
                                        [&](const member& m) { return m.at == found->at; });
                r = *c;
                continue;
            }
            if (found->rest.starts_with('{') || found->rest.starts_with('&') ||
                found->rest.starts_with('*') || found->rest.starts_with('!'))
                return std::nullopt; // a flow mapping, an anchor, an alias or a tag on the way
        }
        std::string indent(r.indent, ' ');
        if (!value) {
            if (!found || !leaf)
                return std::string(text); // nothing there to remove
            if (parent && ms->size() == 1) {
                // The mapping's last member: it becomes an empty mapping rather than nothing (null).
                std::string outer(d.lines_[parent->at].indent, ' ');
                return spliced(text, d.offset(parent->at), d.offset(parent->end),
                               outer + parent->key_text + ": {}" + d.nl_);
            }
            return spliced(text, d.offset(found->at), d.offset(found->end), "");
        }
        nlohmann::json v = *value;
        for (std::size_t j = path.size() - 1; j > k; --j) {
            nlohmann::json wrapped = nlohmann::json::object();
            wrapped[path[j]] = std::move(v);
            v = std::move(wrapped);
        }
        if (found)
            return spliced(text, d.offset(found->at), d.offset(found->end),
                           member_lines(indent, found->key_text, v, unit, d.nl_));
        std::string key_text = plain_key(path[k]) ? path[k] : nlohmann::json(path[k]).dump();
        std::string lines = member_lines(indent, key_text, v, unit, d.nl_);
        std::size_t at =
            ms->empty() ? (parent ? d.offset(parent->end) : text.size()) : d.offset(ms->back().end);
        if (at == text.size() && !text.empty() && text.back() != '\n')
            lines.insert(0, d.nl_);
        return spliced(text, at, at, lines);
    }
    return std::nullopt;
}

} // namespace ag::settings
