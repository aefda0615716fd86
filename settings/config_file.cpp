#include "settings/config_file.hpp"

#include "util/atomic_file.hpp"
#include "util/json5.hpp"

#include <yaml-cpp/yaml.h>

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>

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

nlohmann::json from_yaml(const YAML::Node& node, int depth) {
    if (depth > 512)
        throw invalid_config("nested more than 512 levels");
    switch (node.Type()) {
    case YAML::NodeType::Map: {
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

nlohmann::json parse(std::string_view text, format f) {
    nlohmann::json config;
    if (f == format::yaml) {
        try {
            config = from_yaml(YAML::Load(std::string(text)), 0);
        } catch (const YAML::ParserException& e) {
            throw invalid_config(at(e.mark) + e.msg);
        }
        if (config.is_null())
            config = nlohmann::json::object();
    } else {
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

config_file::config_file(std::string path)
    : path_(std::move(path))
    , format_(format_of(path_)) {}

config_file::contents config_file::read() const {
    contents c = on_disk(path_);
    if (c.exists)
        c.config = parse(c.raw, format_);
    return c;
}

void config_file::replace(const std::string& bytes, const contents& before) {
    mode_t mode = mode_of(path_);
    if (before.exists)
        fs_util::write_file_atomic(path_ + ".bak", before.raw, mode);
    fs_util::write_file_atomic(path_, bytes, mode);
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
