#pragma once
// The engine's own CLI (--engine-cli, docs/api.md §15): its config check and its devices. Each call is a
// child process awaited without blocking an I/O thread (the CLI takes 2-4 s), with a timeout and bounded
// output, in the daemon's environment (the operator gives it what the CLI needs: HOME, OPENCLAW_*).
#include "settings/config_file.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ag::engine {
class child_reaper;
}

namespace ag::settings {

// The CLI did not answer as it should (would not start, timed out, exit code without its JSON): what() says
// what it printed.
struct cli_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct check_result {
    bool valid = false;
    std::string output; // the engine's issues, one "path: message" a line; empty when valid
};

class engine_cli {
public:
    struct options {
        std::string command; // /bin/sh -c "COMMAND ARGS"
        std::string cwd;     // the agent's root
        std::string scratch; // where candidates are written for the check (STATE)
        std::vector<std::pair<std::string, std::string>> env; // AGENT_ID
        std::chrono::seconds timeout{30};
    };
    engine_cli(options o, engine::child_reaper& reaper);

    // `CLI config validate --json` on a temporary copy of `text` (named by OPENCLAW_CONFIG_PATH, with the
    // file's extension), removed afterwards. Throws cli_error.
    boost::asio::awaitable<check_result> check_config(std::string text, format f) const;
    // The two halves of check_config, so a caller can write the copy on its blocking pool: the copy's path
    // (blocking; throws std::system_error), then the check of it, which removes it.
    std::string write_check_copy(const std::string& text, format f) const;
    boost::asio::awaitable<check_result> check_copy(std::string path) const;
    // `CLI devices list --json`: {"pending":[…],"paired":[…]}. Throws cli_error.
    boost::asio::awaitable<nlohmann::json> list_devices() const;
    // `CLI devices approve -- ID`; returns what it printed. Throws cli_error.
    boost::asio::awaitable<std::string> approve_device(std::string request_id) const;

    // Removes the check copies a killed daemon left in `scratch`. At start.
    static void remove_leftovers(const std::string& scratch);

private:
    struct output {
        int exit_code = 0;
        std::string out, err;
    };
    boost::asio::awaitable<output> run(std::string args,
                                       std::vector<std::pair<std::string, std::string>> env) const;

    options opt_;
    engine::child_reaper& reaper_;
};

// A device request id as the CLI takes it: [A-Za-z0-9][A-Za-z0-9_.:-]{0,127}, nothing a shell would read and
// never an option.
bool valid_request_id(std::string_view id);

} // namespace ag::settings
