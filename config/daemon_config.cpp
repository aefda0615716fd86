#include "config/daemon_config.hpp"

#include "util/atomic_file.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

namespace ag {
namespace {

struct option_spec {
    const char* name;
    const char* value; // placeholder shown in --help; nullptr for flags
    bool repeatable;
    const char* help;
};

// Every option of docs/api.md §2, plus --threads and --config. Values are validated in build_config().
constexpr option_spec options[] = {
    {"listen", "ADDR", true, "HOST:PORT, [V6]:PORT or unix:/path (default 127.0.0.1:18789)"},
    {"agent-id", "ID", false, "the agent this daemon serves, [a-z0-9-]{1,63} (default local)"},
    {"token-file", "PATH", false, "file holding the gateway token"},
    {"token", "TOKEN", false, "the gateway token itself (prefer --token-file or AGENT_GATEWAY_TOKEN)"},
    {"root", "DIR", false, "the agent's runner root (default: current directory)"},
    {"workspace", "DIR", false, "the agent's workspace (default ROOT/workspace)"},
    {"state-dir", "DIR", false,
     "the daemon's own state, never inside the workspace (default ROOT/.agent-gateway)"},
    {"engine", "CMD", false, "the engine's command line, run with /bin/sh -c in ROOT and supervised"},
    {"engine-url", "URL", false, "where the engine's own gateway listens, e.g. http://127.0.0.1:18790"},
    {"engine-token-file", "PATH", false,
     "the engine's own gateway token, sent as Bearer on requests proxied to it (default: the gateway token)"},
    {"engine-hooks-token-file", "PATH", false, "token sent as Bearer to the engine's hooks"},
    {"engine-log", "GLOB", true, "engine log files to follow"},
    {"engine-config", "PATH", false, "the engine's runtime config file (.json, .json5, .yaml)"},
    {"engine-cli", "CMD", false, "the engine's own CLI, used for devices"},
    {"manifest", "PATH", false,
     "scripts, routes and tasks to apply at start (default WORKSPACE/manifest.json)"},
    {"base-domain", "DOMAIN", false, "{agentId}.DOMAIN is this agent's API host"},
    {"snapshot-interval", "SEC", false, "automatic snapshot period, 0 = off (default 60)"},
    {"ipfs-api", "URL", false, "Kubo-compatible RPC API used to pin snapshots"},
    {"cid-version", "0|1", false, "snapshot CID version (default 0)"},
    {"loki-url", "URL", false,
     "Grafana Loki to ship the log journal to, http://HOST:PORT[/push path] (default path "
     "/loki/api/v1/push)"},
    {"max-file-bytes", "N", false, "largest file read in one response and largest upload (default 5242880)"},
    {"max-put-bytes", "N", false, "largest file written by PUT .../files (default 1073741824)"},
    {"exec-timeout", "SEC", false, "default console exec timeout (default 60)"},
    {"upstream-timeout", "SEC", false,
     "how long a proxied service may stay silent: connect, first answer byte, between reads (default 60)"},
    {"exec-timeout-max", "SEC", false, "the longest timeoutSeconds a request may ask for (default 600)"},
    {"exec-max-output", "N", false, "bytes kept per stream of one exec (default 1048576)"},
    {"process-output-bytes", "N", false,
     "output kept on disk per background process, both streams together (default 8388608)"},
    {"pty-idle-timeout", "SEC", false,
     "how long a terminal session nobody is attached to is kept before it is ended (default 1800)"},
    {"workload-max-pids", "N", false,
     "processes and threads the workload (engine, scripts, execs) may hold at once, 0 = no limit (default "
     "4096)"},
    {"workload-max-memory", "BYTES", false, "memory limit of the workload's cgroup, 0 = none (default 0)"},
    {"allow-origin", "ORIGIN", true, "origin allowed by CORS, with credentials"},
    {"trusted-proxy", "CIDR", true, "peer whose X-Forwarded-For names the client (rate limits, logs)"},
    {"max-connections-per-client", "N", false,
     "connections one client address may hold at once (default 256)"},
    {"tls-cert", "PATH", false, "certificate chain (PEM): serve HTTPS/WSS on every listener"},
    {"tls-key", "PATH", false, "private key (PEM) for --tls-cert"},
    {"platform-key", "PATH", false, "EC P-256 private key (PEM) used to mint platform tokens"},
    {"metrics", "on|off", false, "count requests and work for GET /metrics (default on)"},
    {"log-level", "LEVEL", false, "trace, debug, info, warn, error or off (default info)"},
    {"log-format", "text|json", false, "format of the daemon's own log on stderr (default text)"},
    {"threads", "N", false, "I/O threads, 1-64 (default 1)"},
    {"config", "FILE", false, "JSON file whose keys are option names"},
};

const option_spec* find_option(std::string_view name) {
    for (const auto& o : options)
        if (name == o.name)
            return &o;
    return nullptr;
}

std::string env_name(std::string_view option) {
    std::string s = "AGENT_GATEWAY_";
    for (char c : option)
        s += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// Raw values by option name, with where they came from for error messages.
struct raw_value {
    std::vector<std::string> values;
    std::string origin;
};
using raw_map = std::map<std::string, raw_value, std::less<>>;

[[noreturn]] void fail(const std::string& msg) {
    throw usage_error(msg);
}

std::uint64_t parse_uint(const std::string& name, const raw_value& v, std::uint64_t min, std::uint64_t max) {
    const std::string& s = v.values.back();
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        s.size() > 19)
        fail(fmt::format("--{} ({}): '{}' is not a whole number", name, v.origin, s));
    std::uint64_t n = std::stoull(s);
    if (n < min || n > max)
        fail(fmt::format("--{} ({}): {} is out of range {}..{}", name, v.origin, n, min, max));
    return n;
}

std::string absolute(const std::string& path, const std::string& base) {
    if (!path.empty() && path.front() == '/')
        return path;
    std::string b = base;
    if (path.empty() || path == ".")
        return b;
    if (b.back() != '/')
        b += '/';
    return b + path;
}

std::string canonical_or(const std::string& path) {
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf))
        return buf;
    return path;
}

std::string current_dir() {
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf))
        fail("cannot read the current directory");
    return buf;
}

bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void require_readable_file(const std::string& name, const std::string& path) {
    std::ifstream f(path);
    if (!f)
        fail(fmt::format("--{}: cannot read '{}'", name, path));
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// "http[s]://AUTHORITY" followed by what `rest_ok` accepts; the authority is non-empty, without '/', '?',
// '#' or white space.
template <class Rest> bool http_url_shape(std::string_view url, Rest rest_ok) {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (!url.starts_with(scheme))
            continue;
        auto rest = url.substr(scheme.size());
        auto end = rest.find_first_of("/?# \t\n\r\f\v");
        std::string_view authority = rest.substr(0, end);
        return !authority.empty() &&
               rest_ok(end == std::string_view::npos ? std::string_view{} : rest.substr(end));
    }
    return false;
}

// An origin: scheme://host[:port], nothing after it.
bool is_origin(std::string_view url) {
    return http_url_shape(url, [](std::string_view rest) { return rest.empty(); });
}

// scheme://host[:port] optionally followed by a path ("/…") without white space.
bool is_http_url(std::string_view url) {
    return http_url_shape(url, [](std::string_view rest) {
        return rest.empty() || (rest.front() == '/' && std::none_of(rest.begin(), rest.end(), is_space));
    });
}

// Dot-separated labels of letters, digits and inner hyphens; at least two labels.
bool is_domain_name(std::string_view name) {
    std::size_t labels = 0;
    for (std::size_t start = 0;; ++labels) {
        auto dot = name.find('.', start);
        auto label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
        if (label.empty() || !alnum(label.front()) || !alnum(label.back()) ||
            !std::all_of(label.begin(), label.end(), [&](char c) { return alnum(c) || c == '-'; }))
            return false;
        if (dot == std::string_view::npos)
            return labels + 1 >= 2;
        start = dot + 1;
    }
}

bool is_agent_id(std::string_view id) {
    return !id.empty() && id.size() <= 63 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

void check_http_url(const std::string& name, const std::string& url) {
    if (!is_http_url(url))
        fail(fmt::format("--{}: '{}' is not an http:// or https:// URL", name, url));
}

// The shipper's HTTP client speaks plain HTTP (a TLS Loki sits behind a local proxy):
// http://AUTHORITY[/path], without user info, query or fragment (logs/loki_push.hpp splits it the same way).
void check_loki_url(const std::string& url) {
    if (url.starts_with("https://"))
        fail(fmt::format(
            "--loki-url: '{}': only http:// is supported (put a TLS proxy on loopback in front of "
            "a remote Loki)",
            url));
    auto authority = std::string_view(url).substr(std::min<std::size_t>(url.size(), 7));
    authority = authority.substr(0, authority.find('/'));
    if (!url.starts_with("http://") || !is_http_url(url) || authority.find('@') != std::string_view::npos ||
        url.find_first_of("?#") != std::string::npos)
        fail(fmt::format(
            "--loki-url: '{}' is not http://HOST[:PORT][/path] (no user info, query or fragment)", url));
}

void add_json_file(raw_map& raw, const std::string& file) {
    std::ifstream in(file);
    if (!in)
        fail(fmt::format("--config: cannot read '{}'", file));
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        fail(fmt::format("--config: '{}' is not valid JSON: {}", file, e.what()));
    }
    if (!j.is_object())
        fail(fmt::format("--config: '{}' must hold a JSON object", file));
    for (auto& item : j.items()) {
        const std::string& key = item.key();
        const nlohmann::json& value = item.value();
        const auto* spec = find_option(key);
        if (!spec || key == "config")
            fail(fmt::format("--config: unknown option '{}' in '{}'", key, file));
        raw_value rv{{}, "config file " + file};
        auto scalar = [&](const nlohmann::json& v) -> std::string {
            if (v.is_string())
                return v.get<std::string>();
            if (v.is_number_unsigned() || v.is_number_integer())
                return v.dump();
            if (v.is_boolean())
                return v.get<bool>() ? "true" : "false";
            fail(fmt::format("--config: '{}' in '{}' must be a string or a number", key, file));
        };
        if (value.is_array()) {
            if (!spec->repeatable)
                fail(fmt::format("--config: '{}' in '{}' takes one value, not a list", key, file));
            for (auto& v : value)
                rv.values.push_back(scalar(v));
        } else {
            rv.values.push_back(scalar(value));
        }
        if (!rv.values.empty())
            raw[key] = std::move(rv);
    }
}

config build_config(const raw_map& raw, const std::string& cwd) {
    config c;
    auto get = [&](std::string_view name) -> const raw_value* {
        auto it = raw.find(name);
        return it == raw.end() ? nullptr : &it->second;
    };
    auto str = [&](std::string_view name) -> std::optional<std::string> {
        if (auto* v = get(name))
            return v->values.back();
        return std::nullopt;
    };
    auto nonempty = [&](std::string_view name) -> std::optional<std::string> {
        auto v = str(name);
        if (v && v->empty())
            fail(fmt::format("--{} ({}): must not be empty", name, get(name)->origin));
        return v;
    };

    if (auto* v = get("listen")) {
        for (const auto& s : v->values)
            c.listen.push_back(parse_listen_address(s));
    } else {
        c.listen.push_back(parse_listen_address("127.0.0.1:18789"));
    }

    if (auto id = str("agent-id")) {
        if (!is_agent_id(*id))
            fail(fmt::format("--agent-id: '{}' must match [a-z0-9-]{{1,63}}", *id));
        c.agent_id = *id;
    }

    c.token_file = nonempty("token-file");
    if (c.token_file)
        c.token_file = absolute(*c.token_file, cwd);
    c.token = str("token");
    if (c.token && std::string_view(*c.token).find_first_not_of(" \t\r\n") == std::string_view::npos)
        fail("--token: must not be empty");
    if (c.token && c.token_file)
        fail("--token and --token-file are exclusive: give one");

    c.root = canonical_or(absolute(str("root").value_or("."), cwd));
    if (!is_dir(c.root))
        fail(fmt::format("--root: '{}' is not a directory", c.root));
    c.workspace = absolute(nonempty("workspace").value_or("workspace"), c.root);
    c.state_dir = absolute(nonempty("state-dir").value_or(".agent-gateway"), c.root);
    c.manifest = absolute(nonempty("manifest").value_or(c.workspace + "/manifest.json"), c.root);

    c.engine = nonempty("engine");
    if ((c.engine_url = nonempty("engine-url")))
        check_http_url("engine-url", *c.engine_url);
    if ((c.engine_token_file = nonempty("engine-token-file")))
        c.engine_token_file = absolute(*c.engine_token_file, c.root);
    if ((c.engine_hooks_token_file = nonempty("engine-hooks-token-file")))
        c.engine_hooks_token_file = absolute(*c.engine_hooks_token_file, c.root);
    if (auto* v = get("engine-log"))
        for (const auto& g : v->values) {
            if (g.empty())
                fail("--engine-log: must not be empty");
            c.engine_log.push_back(absolute(g, c.root));
        }
    if ((c.engine_config = nonempty("engine-config"))) {
        c.engine_config = absolute(*c.engine_config, c.root);
        const auto& p = *c.engine_config;
        auto ends = [&](std::string_view ext) { return p.size() >= ext.size() && p.ends_with(ext); };
        if (!ends(".json") && !ends(".json5") && !ends(".yaml") && !ends(".yml"))
            fail(fmt::format("--engine-config: '{}' must end in .json, .json5, .yaml or .yml", p));
    }
    c.engine_cli = nonempty("engine-cli");
    if ((c.base_domain = nonempty("base-domain"))) {
        if (!is_domain_name(*c.base_domain))
            fail(fmt::format("--base-domain: '{}' is not a domain name", *c.base_domain));
    }
    if (auto* v = get("snapshot-interval"))
        c.snapshot_interval = static_cast<unsigned>(parse_uint("snapshot-interval", *v, 0, 86400 * 7));
    if ((c.ipfs_api = nonempty("ipfs-api")))
        check_http_url("ipfs-api", *c.ipfs_api);
    if ((c.loki_url = nonempty("loki-url")))
        check_loki_url(*c.loki_url);
    if (auto* v = get("cid-version"))
        c.cid_version = static_cast<int>(parse_uint("cid-version", *v, 0, 1));
    if (auto* v = get("max-file-bytes"))
        c.max_file_bytes = parse_uint("max-file-bytes", *v, 1, std::uint64_t{1} << 40);
    if (auto* v = get("max-put-bytes"))
        c.max_put_bytes = parse_uint("max-put-bytes", *v, 1, std::uint64_t{1} << 50);
    if (auto* v = get("exec-timeout"))
        c.exec_timeout = static_cast<unsigned>(parse_uint("exec-timeout", *v, 1, 86400));
    if (auto* v = get("upstream-timeout"))
        c.upstream_timeout = static_cast<unsigned>(parse_uint("upstream-timeout", *v, 1, 86400));
    if (auto* v = get("exec-timeout-max"))
        c.exec_timeout_max = static_cast<unsigned>(parse_uint("exec-timeout-max", *v, 1, 86400));
    if (c.exec_timeout > c.exec_timeout_max)
        fail(fmt::format("--exec-timeout ({}) must not exceed --exec-timeout-max ({})", c.exec_timeout,
                         c.exec_timeout_max));
    if (auto* v = get("pty-idle-timeout"))
        c.pty_idle_timeout = static_cast<unsigned>(parse_uint("pty-idle-timeout", *v, 1, 86400 * 7));
    if (auto* v = get("process-output-bytes"))
        c.process_output_bytes = parse_uint("process-output-bytes", *v, 1024, std::uint64_t{1} << 30);
    if (auto* v = get("exec-max-output"))
        c.exec_max_output = parse_uint("exec-max-output", *v, 64, std::uint64_t{1} << 30);
    if (auto* v = get("workload-max-pids"))
        c.workload_max_pids = parse_uint("workload-max-pids", *v, 0, 4194304);
    if (auto* v = get("workload-max-memory"))
        c.workload_max_memory = parse_uint("workload-max-memory", *v, 0, std::uint64_t{1} << 50);
    if (auto* v = get("allow-origin"))
        for (const auto& o : v->values) {
            if (!is_origin(o))
                fail(fmt::format("--allow-origin: '{}' must be scheme://host[:port] with no path", o));
            c.allow_origin.push_back(o);
        }
    if (auto* v = get("trusted-proxy"))
        for (const auto& t : v->values) {
            auto net = auth::parse_cidr(t);
            if (!net)
                fail(fmt::format("--trusted-proxy: '{}' must be an address or ADDRESS/PREFIX", t));
            c.trusted_proxies.push_back(*net);
        }
    if (auto* v = get("max-connections-per-client"))
        c.max_connections_per_client =
            static_cast<unsigned>(parse_uint("max-connections-per-client", *v, 1, 1000000));
    c.tls_cert = nonempty("tls-cert");
    c.tls_key = nonempty("tls-key");
    if (c.tls_cert.has_value() != c.tls_key.has_value())
        fail("--tls-cert and --tls-key go together: give both or neither");
    if (c.tls_cert) {
        c.tls_cert = absolute(*c.tls_cert, cwd);
        c.tls_key = absolute(*c.tls_key, cwd);
        require_readable_file("tls-cert", *c.tls_cert);
        require_readable_file("tls-key", *c.tls_key);
    }
    if ((c.platform_key = nonempty("platform-key"))) {
        c.platform_key = absolute(*c.platform_key, cwd);
        require_readable_file("platform-key", *c.platform_key);
    }
    if (auto l = str("log-level")) {
        static const char* levels[] = {"trace", "debug", "info", "warn", "error", "off"};
        if (std::find(std::begin(levels), std::end(levels), *l) == std::end(levels))
            fail(fmt::format("--log-level: '{}' must be one of trace, debug, info, warn, error, off", *l));
        c.log_level = *l;
    }
    if (auto m = str("metrics")) {
        if (*m != "on" && *m != "off")
            fail(fmt::format("--metrics: '{}' must be on or off", *m));
        c.metrics = *m == "on";
    }
    if (auto f = str("log-format")) {
        if (*f != "text" && *f != "json")
            fail(fmt::format("--log-format: '{}' must be text or json", *f));
        c.log_format = *f;
    }
    if (auto* v = get("threads"))
        c.threads = static_cast<unsigned>(parse_uint("threads", *v, 1, 64));
    c.config_file = str("config");

    if (c.token_file) {
        std::ifstream f(*c.token_file);
        if (!f)
            fail(fmt::format("--token-file: cannot read '{}'", *c.token_file));
    }

    // The workspace and state directories are ours to create; the state must never sit inside the workspace,
    // or snapshots and git would pick up the daemon's own files.
    try {
        fs_util::make_directories(c.workspace);
        fs_util::make_directories(c.state_dir, 0700);
    } catch (const std::system_error& e) {
        fail(fmt::format("cannot create directory: {}", e.what()));
    }
    c.workspace = canonical_or(c.workspace);
    c.state_dir = canonical_or(c.state_dir);
    if (c.state_dir == c.workspace || c.state_dir.starts_with(c.workspace + "/"))
        fail(fmt::format("--state-dir '{}' must not be inside the workspace '{}'", c.state_dir, c.workspace));
    return c;
}

} // namespace

std::string listen_address::text() const {
    if (type == kind::unix_socket)
        return "unix:" + path;
    if (host.find(':') != std::string::npos)
        return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

listen_address parse_listen_address(const std::string& text) {
    listen_address a;
    if (text.starts_with("unix:")) {
        a.type = listen_address::kind::unix_socket;
        a.path = text.substr(5);
        if (a.path.empty() || a.path.size() >= 108)
            fail(fmt::format("--listen: '{}' needs a unix socket path of 1-107 bytes", text));
        return a;
    }
    std::string port;
    if (text.starts_with("[")) {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            fail(fmt::format("--listen: '{}' is not [V6]:PORT", text));
        a.host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon)
            fail(fmt::format("--listen: '{}' is not HOST:PORT, [V6]:PORT or unix:/path", text));
        a.host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (a.host.empty())
        fail(fmt::format("--listen: '{}' has no host", text));
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoul(port) > 65535)
        fail(fmt::format("--listen: '{}' has no valid port (0-65535)", text));
    a.port = static_cast<std::uint16_t>(std::stoul(port));
    return a;
}

std::string help_text() {
    std::ostringstream out;
    out << "Usage: agent-gateway [OPTION]...\n"
           "Serves one AI agent's HTTP API: console exec, files, uploads, and more (see README).\n\n";
    for (const auto& o : options) {
        std::string left = fmt::format("  --{}{}{}", o.name, o.value ? " " : "", o.value ? o.value : "");
        out << fmt::format("{:<34}{}{}\n", left, o.help, o.repeatable ? " (repeatable)" : "");
    }
    out << fmt::format("{:<34}{}\n", "  --help", "print this help and exit");
    out << fmt::format("{:<34}{}\n", "  --version", "print the version and exit");
    out << "\nEvery option can also be set as AGENT_GATEWAY_<OPTION> (upper case, '-' -> '_'; repeatable "
           "options\n"
           "comma-separated) or as a key of the --config JSON file. Precedence: command line > environment "
           ">\n"
           "config file > default. Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or "
           "configuration.\n";
    return out.str();
}

parsed_command_line parse_command_line(int argc, const char* const* argv, const char* const* envp) {
    parsed_command_line result;
    raw_map cli;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            result.what = parsed_command_line::action::help;
            return result;
        }
        if (arg == "--version") {
            result.what = parsed_command_line::action::version;
            return result;
        }
        if (!arg.starts_with("--"))
            fail(fmt::format("unexpected argument '{}' (see --help)", arg));
        std::string name(arg.substr(2));
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        const auto* spec = find_option(name);
        if (!spec)
            fail(fmt::format("unknown option '--{}' (see --help)", name));
        if (!value) {
            if (i + 1 >= argc)
                fail(fmt::format("option '--{}' needs a value {}", name, spec->value));
            value = argv[++i];
        }
        auto& slot = cli[name];
        slot.origin = "command line";
        if (!spec->repeatable)
            slot.values.clear();
        slot.values.push_back(*value);
    }

    raw_map env;
    for (const char* const* e = envp; e && *e; ++e) {
        std::string_view kv = *e;
        if (!kv.starts_with("AGENT_GATEWAY_"))
            continue;
        auto eq = kv.find('=');
        if (eq == std::string_view::npos)
            continue;
        std::string key(kv.substr(0, eq));
        for (const auto& o : options) {
            if (env_name(o.name) != key)
                continue;
            raw_value rv{{}, "environment " + key};
            std::string value(kv.substr(eq + 1));
            if (o.repeatable) {
                std::stringstream ss(value);
                for (std::string part; std::getline(ss, part, ',');)
                    if (!part.empty())
                        rv.values.push_back(part);
            } else {
                rv.values.push_back(value);
            }
            if (!rv.values.empty())
                env[o.name] = std::move(rv);
        }
    }

    std::string cwd = current_dir();
    raw_map merged;
    std::optional<std::string> config_file;
    if (auto it = cli.find("config"); it != cli.end())
        config_file = it->second.values.back();
    else if (auto it2 = env.find("config"); it2 != env.end())
        config_file = it2->second.values.back();
    if (config_file)
        add_json_file(merged, absolute(*config_file, cwd));
    for (auto& [k, v] : env)
        merged[k] = v;
    for (auto& [k, v] : cli)
        merged[k] = v;
    if (config_file)
        merged["config"] = raw_value{{absolute(*config_file, cwd)}, "command line"};
    result.cfg = build_config(merged, cwd);
    return result;
}

} // namespace ag
