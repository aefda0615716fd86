#pragma once
// The engine's runtime config file (docs/api.md §15): `.json` and `.json5` are read as JSON5 (OpenClaw's
// openclaw.json) and written as plain JSON; `.yaml` and `.yml` are YAML. Every write is atomic, keeps the
// file's mode (0600 for a new one: it holds tokens) and first keeps what was there as PATH.bak, so a write
// never leaves a half-written file and the previous one can be put back by hand. A path that is a symbolic
// link is written through: the link stays, its target is replaced (and its .bak kept) in the target's
// directory. Config text is data from outside: parse() refuses what is nested too deep or whose YAML aliases
// expand too far before building anything. Blocking: call on the pool. Thread-safe: writes are serialised,
// and update() and edit() read and write under the same lock.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ag::settings {

enum class format { json, json5, yaml };
std::string_view name_of(format f);
// By the file name's extension; anything else is json.
format format_of(std::string_view path);

// What is not a config: not the format's syntax, or not an object at the top. what() says where.
struct invalid_config : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A config past the limits of docs/api.md §15, found before the work it would cost.
struct config_too_large : invalid_config {
    using invalid_config::invalid_config;
};

// docs/api.md §15: deeper nesting, more nodes once YAML aliases are expanded, or larger text is refused.
inline constexpr std::size_t max_depth = 256;
inline constexpr std::size_t max_yaml_nodes = 100000;
inline constexpr std::size_t max_text = 1024 * 1024;

// Throws config_too_large when JSON or JSON5 `text` nests deeper than max_depth (a bounded count of brackets
// outside strings and comments, for a body before it is parsed at all); `extra` levels are allowed on top
// (a request body wraps the config in one).
void check_depth(std::string_view text, std::size_t extra = 0);

// The text as `f` reads it; the top must be an object (a YAML mapping; an empty YAML file is {}). Throws
// invalid_config, config_too_large.
nlohmann::json parse(std::string_view text, format f);
// `config` as `f` writes it: indented JSON for json and json5, block YAML (strings quoted) for yaml.
std::string render(const nlohmann::json& config, format f);
// render() for a config from outside: config_too_large when the text would pass max_text, found before it
// is built (indentation makes a deep config hundreds of times larger than its compact body).
std::string render_within_limit(const nlohmann::json& config, format f);

// One change to a config: the member at `path` (keys from the top down) set to `value`, with the objects
// above it made when missing; or removed when `value` is empty.
struct member_edit {
    std::vector<std::string> path;
    std::optional<nlohmann::json> value;
};
// `config` with `edits` made, as apply_edits() makes them in text.
void apply_to(nlohmann::json& config, const std::vector<member_edit>& edits);
// `text` (a file in format `f`; empty for none) with `edits` made. JSON and JSON5: only the edited members'
// bytes change; comments, key order, layout, Infinity, NaN and big integers elsewhere stay as written. YAML:
// only the edited members' lines change where the path runs through block mappings (yaml_edit); otherwise
// (flow mappings, anchors or document markers on the way) written anew from the edited value, its values
// kept but not its comments, anchors or layout. Throws invalid_config.
std::string apply_edits(const std::string& text, format f, const std::vector<member_edit>& edits);

class config_file {
public:
    explicit config_file(std::string path);

    struct contents {
        nlohmann::json config = nlohmann::json::object();
        std::string raw; // the file's bytes; empty when it does not exist
        bool exists = false;
    };
    // Throws invalid_config when the file on disk is not valid, std::system_error when it cannot be read.
    contents read() const;

    // Writes `config` rendered in the file's format.
    void write(const nlohmann::json& config);
    // Writes `raw` as given (comments and all) once it parses. Throws invalid_config.
    void write_raw(const std::string& raw);
    // Reads, lets `change` edit the config (it returns false to leave the file alone), writes; under one lock
    // so no other write comes between. Returns whether it wrote.
    bool update(const std::function<bool(nlohmann::json&)>& change);
    // Reads, lets `plan` say what to change (nothing: the file is left alone), makes the changes as
    // apply_edits() does and writes; under one lock. Returns whether it wrote.
    bool edit(const std::function<std::vector<member_edit>(const contents&)>& plan);

    const std::string& path() const { return path_; }
    // Where writes land: the path, or the file its symbolic links lead to. Throws std::system_error (ELOOP).
    std::string target() const;
    format file_format() const { return format_; }

private:
    void replace(const std::string& bytes, const contents& before);

    std::string path_;
    format format_;
    std::mutex write_mutex_;
};

} // namespace ag::settings
