#pragma once
// The engine's runtime config file (docs/api.md §15): `.json` and `.json5` are read as JSON5 (OpenClaw's
// openclaw.json) and written as plain JSON; `.yaml` and `.yml` are YAML. Every write is atomic, keeps the
// file's mode (0600 for a new one: it holds tokens) and first keeps what was there as PATH.bak, so a write
// never leaves a half-written file and the previous one can be put back by hand. Blocking: call on the pool.
// Thread-safe: writes are serialised, and update() reads and writes under the same lock.
#include <nlohmann/json.hpp>

#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ag::settings {

enum class format { json, json5, yaml };
std::string_view name_of(format f);
// By the file name's extension; anything else is json.
format format_of(std::string_view path);

// What is not a config: not the format's syntax, or not an object at the top. what() says where.
struct invalid_config : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The text as `f` reads it; the top must be an object (a YAML mapping; an empty YAML file is {}). Throws
// invalid_config.
nlohmann::json parse(std::string_view text, format f);
// `config` as `f` writes it: indented JSON for json and json5, block YAML (strings quoted) for yaml.
std::string render(const nlohmann::json& config, format f);

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

    const std::string& path() const { return path_; }
    format file_format() const { return format_; }

private:
    void replace(const std::string& bytes, const contents& before);

    std::string path_;
    format format_;
    std::mutex write_mutex_;
};

} // namespace ag::settings
