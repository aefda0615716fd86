#include "settings/config_file.hpp"

#include "settings/yaml_edit.hpp"
#include "util/atomic_file.hpp"
#include "util/json5.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <system_error>
#include <unordered_map>

namespace ag::settings {
namespace {

std::string at(const YAML::Mark& m) {
    if (m.is_null())
        return {};
    return "line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ": ";
}

// What is on disk, unparsed (a file that is not valid is still kept as PATH.bak).
config_file::contents on_disk(const std::string& path) {
    config_file::contents c;
    if (auto text = fs_util::read_file(path)) {
        c.exists = true;
        c.raw = std::move(*text);
    }
    return c;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> words) {
    return std::find(words.begin(), words.end(), s) != words.end();
}

// Skips a run of decimal digits at `i`; answers whether there was at least one.
bool digits(std::string_view s, std::size_t& i) {
    std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
        ++i;
    return i > from;
}

std::size_t after_sign(std::string_view s) {
    return !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
}

// [-+]?[0-9]+
bool is_int(std::string_view s) {
    std::size_t i = after_sign(s);
    return digits(s, i) && i == s.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float(std::string_view s) {
    std::size_t i = after_sign(s);
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (!digits(s, i))
            return false;
    } else {
        if (!digits(s, i))
            return false;
        if (i < s.size() && s[i] == '.') {
            ++i;
            digits(s, i);
        }
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+'))
            ++i;
        if (!digits(s, i))
            return false;
    }
    return i == s.size();
}

// A plain (unquoted) YAML scalar typed as YAML 1.2's core schema does; quoted scalars are strings. (Written
// out rather than with std::regex: GCC 12 warns inside <regex> in the sanitizer build, and this is shorter.)
nlohmann::json plain_scalar(const std::string& s) {
    if (s.empty() || one_of(s, {"~", "null", "Null", "NULL"}))
        return nullptr;
    if (one_of(s, {"true", "True", "TRUE"}))
        return true;
    if (one_of(s, {"false", "False", "FALSE"}))
        return false;
    if (is_int(s)) {
        std::int64_t v = 0;
        const char* first = s.data() + (s[0] == '+' ? 1 : 0);
        if (std::from_chars(first, s.data() + s.size(), v).ec == std::errc{})
            return v;
    }
    if (s.starts_with("0x") && s.size() > 2) {
        std::uint64_t v = 0;
        if (std::from_chars(s.data() + 2, s.data() + s.size(), v, 16).ptr == s.data() + s.size())
            return v;
    }
    if (s.starts_with("0o") && s.size() > 2) {
        std::uint64_t v = 0;
        if (std::from_chars(s.data() + 2, s.data() + s.size(), v, 8).ptr == s.data() + s.size())
            return v;
    }
    if (is_float(s))
        return std::stod(s);
    std::string_view unsigned_part = std::string_view(s).substr(after_sign(s));
    if (one_of(unsigned_part, {".inf", ".Inf", ".INF"}))
        return s[0] == '-' ? -std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::infinity();
    if (one_of(s, {".nan", ".NaN", ".NAN"}))
        return std::numeric_limits<double>::quiet_NaN();
    return s;
}

// Walks a YAML document's events before it is loaded: refuses nesting past max_depth and a document that
// would be more than max_yaml_nodes nodes once its aliases are expanded (a "billion laughs" of a few hundred
// bytes is billions of nodes), counting each alias as the size of the node it names, without expanding it.
class yaml_limits : public YAML::EventHandler {
public:
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t anchor) override { leaf(m, anchor); }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                  const std::string&) override {
        leaf(m, anchor);
    }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t anchor) override {
        auto it = sizes_.find(anchor);
        // Its node is not finished: an alias inside the node it names would expand without end.
        if (it == sizes_.end())
            throw invalid_config(at(m) + "an alias inside the node it names");
        add(m, it->second);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(m, anchor);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(m, anchor);
    }
    void OnMapEnd() override { close(); }

private:
    struct frame {
        YAML::anchor_t anchor;
        std::uint64_t size; // of the node so far, itself included
    };

    // `n` more nodes under the open node; the whole document's count may not pass the limit.
    void add(const YAML::Mark& m, std::uint64_t n) {
        total_ += n;
        if (total_ > max_yaml_nodes)
            throw config_too_large(at(m) + "more than " + std::to_string(max_yaml_nodes) +
                                   " nodes once its aliases are expanded");
        if (!stack_.empty())
            stack_.back().size += n;
    }
    void leaf(const YAML::Mark& m, YAML::anchor_t anchor) {
        add(m, 1);
        if (anchor != YAML::NullAnchor)
            sizes_[anchor] = 1;
    }
    void open(const YAML::Mark& m, YAML::anchor_t anchor) {
        if (stack_.size() >= max_depth)
            throw config_too_large(at(m) + "nested deeper than " + std::to_string(max_depth) + " levels");
        add(m, 1);
        stack_.push_back({anchor, 1});
    }
    void close() {
        frame done = stack_.back();
        stack_.pop_back();
        // Counted into the total as it was read; its parent's size takes it whole.
        if (!stack_.empty())
            stack_.back().size += done.size - 1;
        if (done.anchor != YAML::NullAnchor)
            sizes_[done.anchor] = done.size;
    }

    std::vector<frame> stack_;
    std::unordered_map<YAML::anchor_t, std::uint64_t> sizes_;
    std::uint64_t total_ = 0;
};

nlohmann::json from_yaml(const YAML::Node& node, std::size_t depth) {
    switch (node.Type()) {
    case YAML::NodeType::Map: {
        // Aliases can nest a deep node inside another.
        if (depth >= max_depth)
            throw config_too_large(at(node.Mark()) + "nested deeper than " + std::to_string(max_depth) +
                                   " levels");
        auto out = nlohmann::json::object();
        for (const auto& kv : node) {
            if (!kv.first.IsScalar())
                throw invalid_config(at(kv.first.Mark()) +
                                     "a key must be a scalar"); // JSON has no other keys
            out[kv.first.Scalar()] = from_yaml(kv.second, depth + 1);
        }
        return out;
    }
    case YAML::NodeType::Sequence: {
        if (depth >= max_depth)
            throw config_too_large(at(node.Mark()) + "nested deeper than " + std::to_string(max_depth) +
                                   " levels");
        auto out = nlohmann::json::array();
        for (const auto& item : node)
            out.push_back(from_yaml(item, depth + 1));
        return out;
    }
    case YAML::NodeType::Scalar:
        return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : plain_scalar(node.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        return nullptr;
    }
    return nullptr;
}

void to_yaml(YAML::Emitter& out, const nlohmann::json& v) {
    switch (v.type()) {
    case nlohmann::json::value_t::object:
        out << YAML::BeginMap;
        for (const auto& [k, item] : v.items()) {
            out << YAML::Key << YAML::DoubleQuoted << k << YAML::Value;
            to_yaml(out, item);
        }
        out << YAML::EndMap;
        break;
    case nlohmann::json::value_t::array:
        out << YAML::BeginSeq;
        for (const auto& item : v)
            to_yaml(out, item);
        out << YAML::EndSeq;
        break;
    case nlohmann::json::value_t::string:
        out << YAML::DoubleQuoted << v.get<std::string>();
        break;
    case nlohmann::json::value_t::boolean:
        out << (v.get<bool>() ? "true" : "false");
        break;
    case nlohmann::json::value_t::number_integer:
        out << v.get<std::int64_t>();
        break;
    case nlohmann::json::value_t::number_unsigned:
        out << v.get<std::uint64_t>();
        break;
    case nlohmann::json::value_t::number_float: {
        double d = v.get<double>();
        if (std::isnan(d))
            out << ".nan";
        else if (std::isinf(d))
            out << (d < 0 ? "-.inf" : ".inf");
        else
            out << v.dump(); // nlohmann's shortest round-trip form
        break;
    }
    default:
        out << YAML::Null;
    }
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
}

} // namespace

std::string_view name_of(format f) {
    switch (f) {
    case format::json:
        return "json";
    case format::json5:
        return "json5";
    case format::yaml:
        return "yaml";
    }
    return "json";
}

format format_of(std::string_view path) {
    if (path.ends_with(".yaml") || path.ends_with(".yml"))
        return format::yaml;
    if (path.ends_with(".json5"))
        return format::json5;
    return format::json;
}

void check_depth(std::string_view text, std::size_t extra) {
    if (json5::nesting_depth(text, max_depth + extra) > max_depth + extra)
        throw config_too_large("nested deeper than " + std::to_string(max_depth) + " levels");
}

nlohmann::json parse(std::string_view text, format f) {
    nlohmann::json config;
    if (f == format::yaml) {
        try {
            // The limits first, on the events alone: loading builds a node graph, and expanding its aliases
            // is what a small bomb makes costly.
            std::istringstream in{std::string(text)};
            YAML::Parser events(in);
            yaml_limits limits;
            events.HandleNextDocument(limits);
            config = from_yaml(YAML::Load(std::string(text)), 0);
        } catch (const YAML::ParserException& e) {
            throw invalid_config(at(e.mark) + e.msg);
        }
        if (config.is_null())
            config = nlohmann::json::object();
    } else {
        check_depth(text);
        try {
            config = json5::parse(text);
        } catch (const json5::parse_error& e) {
            throw invalid_config(e.what());
        }
    }
    if (!config.is_object())
        throw invalid_config("the config must be an object at the top");
    return config;
}

std::string render(const nlohmann::json& config, format f) {
    if (f != format::yaml)
        return config.dump(2) + "\n";
    YAML::Emitter out;
    to_yaml(out, config);
    return std::string(out.c_str()) + "\n";
}

void apply_to(nlohmann::json& config, const std::vector<member_edit>& edits) {
    for (const auto& e : edits) {
        if (e.path.empty())
            throw std::invalid_argument("member_edit: an empty path");
        nlohmann::json* at = &config;
        if (!e.value) {
            for (std::size_t k = 0; at && k + 1 < e.path.size(); ++k)
                at = at->is_object() && at->contains(e.path[k]) ? &(*at)[e.path[k]] : nullptr;
            if (at && at->is_object())
                at->erase(e.path.back());
            continue;
        }
        for (std::size_t k = 0; k + 1 < e.path.size(); ++k) {
            if (!at->is_object())
                *at = nlohmann::json::object();
            at = &(*at)[e.path[k]];
        }
        if (!at->is_object())
            *at = nlohmann::json::object();
        (*at)[e.path.back()] = *e.value;
    }
}

namespace {

// Equal as JSON writes them: NaN is null on both sides, and bytes that are not UTF-8 compare as written.
bool same(const nlohmann::json& a, const nlohmann::json& b) {
    auto text = [](const nlohmann::json& v) {
        return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    return text(a) == text(b);
}

} // namespace

std::string apply_edits(const std::string& text, format f, const std::vector<member_edit>& edits) {
    bool blank = text.find_first_not_of(" \t\r\n") == std::string::npos;
    nlohmann::json expected = blank ? nlohmann::json::object() : parse(text, f);
    apply_to(expected, edits);
    if (f == format::yaml) {
        // Line by line where the file is laid out in block mappings, as most are; written anew otherwise (its
        // values kept). Either way what is written reads back as the value edited.
        std::optional<std::string> out;
        if (!blank)
            out = text;
        for (const auto& e : edits)
            if (out)
                out = yaml_edit(*out, e.path, e.value);
        if (out) {
            try {
                if (same(parse(*out, f), expected))
                    return *out;
            } catch (const invalid_config&) {
            }
        }
        return render(expected, f);
    }
    std::string out = blank ? std::string("{}\n") : text;
    try {
        for (const auto& e : edits)
            out = e.value ? json5::set_member(out, e.path, *e.value) : json5::remove_member(out, e.path);
    } catch (const json5::parse_error& e) {
        throw invalid_config(e.what());
    }
    // The text must read back as the value edited (NaN compared as JSON writes it): an edit that went
    // wrong is refused here rather than written.
    if (!same(parse(out, f), expected))
        throw std::logic_error("the text edit of the engine config does not read back as intended");
    return out;
}

namespace {

// A lower bound of the indentation `v` takes rendered at `depth` (two spaces a level, a line per value),
// counted until it passes `limit`.
std::size_t indentation_of(const nlohmann::json& v, std::size_t depth, std::size_t limit) {
    std::size_t total = 2 * depth;
    if (v.is_structured())
        for (const auto& item : v) {
            total += indentation_of(item, depth + 1, limit);
            if (total > limit)
                break;
        }
    return total;
}

} // namespace

std::string render_within_limit(const nlohmann::json& config, format f) {
    if (indentation_of(config, 0, max_text) > max_text)
        throw config_too_large("larger than 1 MiB once written");
    std::string text = render(config, f);
    if (text.size() > max_text)
        throw config_too_large("larger than 1 MiB once written");
    return text;
}

config_file::config_file(std::string path)
    : path_(std::move(path))
    , format_(format_of(path_)) {}

config_file::contents config_file::read() const {
    contents c = on_disk(path_);
    if (c.exists)
        c.config = parse(c.raw, format_);
    return c;
}

std::string config_file::target() const {
    std::string at = path_;
    for (int hops = 0; hops < 40; ++hops) {
        struct stat st {};
        if (::lstat(at.c_str(), &st) != 0 || !S_ISLNK(st.st_mode))
            return at;
        std::string link(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
        ssize_t n = ::readlink(at.c_str(), link.data(), link.size());
        if (n < 0)
            throw std::system_error(errno, std::generic_category(), "readlink " + at);
        link.resize(static_cast<std::size_t>(n));
        if (link.starts_with('/')) {
            at = link;
        } else {
            auto slash = at.rfind('/');
            at = slash == std::string::npos ? std::string() : at.substr(0, slash + 1);
            at += link;
        }
    }
    throw std::system_error(ELOOP, std::generic_category(), "symbolic links at " + path_);
}

void config_file::replace(const std::string& bytes, const contents& before) {
    // Through a symbolic link to its target: renaming over the link would turn it into a file of its own
    // and leave the target (which the engine may read by its own name) with the old text.
    std::string to = target();
    mode_t mode = mode_of(to);
    if (before.exists)
        fs_util::write_file_atomic(to + ".bak", before.raw, mode);
    fs_util::write_file_atomic(to, bytes, mode);
}

void config_file::write(const nlohmann::json& config) {
    std::lock_guard lock(write_mutex_);
    replace(render(config, format_), on_disk(path_));
}

void config_file::write_raw(const std::string& raw) {
    parse(raw, format_);
    std::lock_guard lock(write_mutex_);
    replace(raw, on_disk(path_));
}

bool config_file::edit(const std::function<std::vector<member_edit>(const contents&)>& plan) {
    std::lock_guard lock(write_mutex_);
    contents before = read();
    auto edits = plan(before);
    if (edits.empty())
        return false;
    replace(apply_edits(before.raw, format_, edits), before);
    return true;
}

bool config_file::update(const std::function<bool(nlohmann::json&)>& change) {
    std::lock_guard lock(write_mutex_);
    contents before = read();
    nlohmann::json config = before.config;
    if (!change(config))
        return false;
    replace(render(config, format_), before);
    return true;
}

} // namespace ag::settings
