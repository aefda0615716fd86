#pragma once
// The daemon's configuration: one struct, built once from command line > environment > --config file >
// defaults, validated before anything starts. Immutable afterwards (read from any thread).
#include "auth/client_address.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ag {

struct listen_address {
    enum class kind { tcp, unix_socket };
    kind type = kind::tcp;
    std::string host; // tcp: numeric address or name, without brackets
    std::uint16_t port = 0;
    std::string path; // unix socket path
    std::string text() const;
};

struct config {
    std::vector<listen_address> listen;
    std::string agent_id = "local";
    std::optional<std::string> token_file;
    std::optional<std::string> token;
    std::string root;      // absolute
    std::string workspace; // absolute
    std::string state_dir; // absolute
    std::optional<std::string> engine;
    std::optional<std::string> engine_url;
    std::optional<std::string> engine_token_file; // the engine's own token (docs/api.md §10)
    std::optional<std::string> engine_hooks_token_file;
    std::vector<std::string> engine_log;
    std::optional<std::string> engine_config;
    std::optional<std::string> engine_cli;
    std::string manifest; // absolute
    std::optional<std::string> base_domain;
    unsigned snapshot_interval = 60;
    std::optional<std::string> ipfs_api;
    int cid_version = 0;
    std::optional<std::string> loki_url; // ship the log journal to Grafana Loki (docs/api.md §7)
    std::uint64_t max_file_bytes = 5242880;
    std::uint64_t max_put_bytes = std::uint64_t{1} << 30; // largest PUT …/files body (docs/api.md §19)
    unsigned exec_timeout = 60;
    unsigned upstream_timeout = 60; // seconds a proxied service may stay silent (docs/api.md §11)
    unsigned exec_timeout_max = 600;
    std::uint64_t exec_max_output = 1048576;
    std::uint64_t process_output_bytes = 8 * 1024 * 1024; // kept per background process (docs/api.md §18)
    unsigned pty_idle_timeout = 1800; // seconds a terminal session nobody watches is kept (docs/api.md §17)
    std::uint64_t workload_max_pids = 4096; // engine/workload_limits.hpp
    std::uint64_t workload_max_memory = 0;
    std::vector<std::string> allow_origin;
    std::vector<auth::cidr> trusted_proxies;   // peers whose X-Forwarded-For names the client
    unsigned max_connections_per_client = 256; // per client address; trusted proxies are not limited
    std::optional<std::string> tls_cert;
    std::optional<std::string> tls_key;
    std::optional<std::string> platform_key;
    std::string log_level = "info";
    std::string log_format = "text";
    bool metrics = true; // --metrics: GET /metrics and the counting behind it
    unsigned threads = 1;
    std::optional<std::string> config_file;
};

// Bad usage or configuration: main prints the message and exits 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct parsed_command_line {
    enum class action { run, help, version } what = action::run;
    config cfg;
};

// Reads argv, the AGENT_GATEWAY_* environment and the --config file; validates every value; resolves paths
// against the current directory and creates the workspace and state directories. Throws usage_error.
parsed_command_line parse_command_line(int argc, const char* const* argv, const char* const* envp);

std::string help_text();

// Parses HOST:PORT, [V6]:PORT or unix:/path. Throws usage_error.
listen_address parse_listen_address(const std::string& text);

} // namespace ag
