#include "settings/engine_cli.hpp"

#include "engine/exec.hpp"
#include "util/atomic_file.hpp"
#include "util/scope_exit.hpp"
#include "util/text.hpp"

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <system_error>

namespace ag::settings {
namespace {

constexpr std::string_view check_prefix = "engine-config-check-";

std::vector<std::pair<std::string, std::string>> no_env() {
    return {};
}

// What a failed call printed, for cli_error: stderr, else stdout, trimmed and capped.
std::string what_it_said(const std::string& out, const std::string& err, int code) {
    std::string said(text::trim(err.empty() ? out : err));
    if (said.size() > 2000)
        said = said.substr(0, 2000) + "…";
    return said.empty() ? "exit code " + std::to_string(code) : said;
}

// A copy of the candidate for the engine to read; the name keeps the extension, which decides how it is
// parsed.
std::string write_candidate(const std::string& scratch, const std::string& text, format f) {
    std::string ext = f == format::yaml ? ".yaml" : f == format::json5 ? ".json5" : ".json";
    std::string path = scratch + "/" + std::string(check_prefix) + "XXXXXX" + ext;
    int fd = ::mkostemps(path.data(), static_cast<int>(ext.size()), O_CLOEXEC);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "cannot create " + path);
    scope_exit close_fd([fd] { ::close(fd); });
    try {
        fs_util::write_all(fd, text, path);
    } catch (...) {
        ::unlink(path.c_str());
        throw;
    }
    return path;
}

} // namespace

bool valid_request_id(std::string_view id) {
    // [A-Za-z0-9][A-Za-z0-9_.:-]{0,127}: a letter or digit first, so never an option such as --help.
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (id.empty() || id.size() > 128 || !alnum(id[0]))
        return false;
    for (char c : id)
        if (!(alnum(c) || c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    return true;
}

engine_cli::engine_cli(options o, engine::child_reaper& reaper)
    : opt_(std::move(o))
    , reaper_(reaper) {}

void engine_cli::remove_leftovers(const std::string& scratch) {
    DIR* d = ::opendir(scratch.c_str());
    if (!d)
        return;
    scope_exit close_dir([d] { ::closedir(d); });
    while (auto* e = ::readdir(d))
        if (std::string_view(e->d_name).starts_with(check_prefix))
            ::unlinkat(::dirfd(d), e->d_name, 0);
}

boost::asio::awaitable<engine_cli::output>
engine_cli::run(std::string args, std::vector<std::pair<std::string, std::string>> env) const {
    engine::exec_request req;
    req.command = opt_.command + " " + args;
    req.cwd = opt_.cwd;
    req.env = opt_.env;
    req.env.insert(req.env.end(), env.begin(), env.end());
    req.timeout = opt_.timeout;
    req.max_output = 1 << 20;
    engine::exec_result r;
    try {
        r = co_await engine::run_exec(reaper_, std::move(req));
    } catch (const std::system_error& e) {
        throw cli_error(std::string("cannot start the engine CLI: ") + e.what());
    }
    if (r.timed_out)
        throw cli_error("the engine CLI did not finish within " + std::to_string(opt_.timeout.count()) +
                        " s");
    co_return output{r.exit_code, std::move(r.stdout_text), std::move(r.stderr_text)};
}

std::string engine_cli::write_check_copy(const std::string& text, format f) const {
    return write_candidate(opt_.scratch, text, f);
}

boost::asio::awaitable<check_result> engine_cli::check_config(std::string text, format f) const {
    std::string path = write_check_copy(text, f);
    auto verdict = co_await check_copy(std::move(path));
    co_return verdict;
}

boost::asio::awaitable<check_result> engine_cli::check_copy(std::string path) const {
    scope_exit remove([&path] { ::unlink(path.c_str()); });
    std::vector<std::pair<std::string, std::string>> env;
    env.emplace_back("OPENCLAW_CONFIG_PATH", path);
    auto r = co_await run("config validate --json", std::move(env));
    // The verdict is the JSON it prints, on either exit code; without it the check itself failed.
    auto verdict = nlohmann::json::parse(r.out, nullptr, false);
    if (verdict.is_discarded() || !verdict.is_object() || !verdict.contains("valid") ||
        !verdict["valid"].is_boolean())
        throw cli_error(what_it_said(r.out, r.err, r.exit_code));
    check_result c;
    c.valid = verdict["valid"].get<bool>();
    if (auto issues = verdict.find("issues"); issues != verdict.end() && issues->is_array())
        for (const auto& issue : *issues) {
            std::string where = issue.value("path", std::string{});
            std::string message = issue.is_object() ? issue.value("message", issue.dump()) : issue.dump();
            // The copy's temporary name means nothing to the caller.
            for (auto at = message.find(path); at != std::string::npos; at = message.find(path))
                message.replace(at, path.size(), "the config");
            if (!c.output.empty())
                c.output += '\n';
            if (!where.empty())
                c.output.append(where).append(": ");
            c.output += message;
        }
    if (!c.valid && c.output.empty())
        c.output = "the engine refused the config";
    co_return c;
}

boost::asio::awaitable<nlohmann::json> engine_cli::list_devices() const {
    auto r = co_await run("devices list --json", no_env());
    auto list = nlohmann::json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || list.is_discarded() || !list.is_object())
        throw cli_error(what_it_said(r.out, r.err, r.exit_code));
    static constexpr std::array<const char*, 2> keys{"pending", "paired"};
    for (const char* key : keys)
        if (!list.contains(key) || !list[key].is_array())
            list[key] = nlohmann::json::array();
    co_return list;
}

boost::asio::awaitable<std::string> engine_cli::approve_device(std::string request_id) const {
    if (!valid_request_id(request_id))
        throw std::invalid_argument("not a device request id");
    // After `--`: an operand, whatever it looks like.
    auto r = co_await run("devices approve -- '" + request_id + "'", no_env());
    if (r.exit_code != 0)
        throw cli_error(what_it_said(r.out, r.err, r.exit_code));
    co_return std::string(text::trim(r.out));
}

} // namespace ag::settings
