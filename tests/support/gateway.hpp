#pragma once
// Starts the real agent-gateway binary on a free loopback port and talks to it over real sockets.
#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace test {

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
bool exists(const std::string& path);
std::vector<std::string> list_dir(const std::string& path); // sorted names

// A process's peak resident memory (VmHWM) in KiB, or -1.
long peak_rss_kib(pid_t pid);

// The daemon the tests start: AG_TEST_BINARY when set (the static build's), else this build's.
const char* binary_path();

// A plain TCP connection to 127.0.0.1:port: the descriptor, or -1 with errno set.
int connect_loopback(int port);

struct http_result {
    int status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;
    std::string header(const std::string& name) const;
    nlohmann::json json() const { return nlohmann::json::parse(body); }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

struct run_result {
    int exit_code = -1;
    std::string out, err;
};
// Runs the binary to completion with `args` (for --help, bad options); bounded by 20 s.
run_result run_binary(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {});

class gateway {
public:
    // Starts agent-gateway with --listen 127.0.0.1:0 --root ROOT --token TOKEN plus `args` (a token option in
    // `args` replaces the default). Waits (bounded) until it logs its listening address.
    explicit gateway(std::vector<std::string> args = {}, std::string root = {},
                     std::vector<std::string> prefix = {}, std::vector<std::string> env = {});
    ~gateway();
    gateway(const gateway&) = delete;

    static constexpr const char* token = "test-token-0123456789";

    int port() const { return port_; }
    const std::string& root() const { return root_; }
    std::string workspace() const { return root_ + "/workspace"; }
    pid_t pid() const { return pid_; }

    // One request on a fresh connection; adds the Bearer token unless `auth` is false.
    http_result request(const std::string& method, const std::string& target, const std::string& body = {},
                        header_list headers = {}, bool auth = true) const;
    http_result get(const std::string& target) const { return request("GET", target); }
    http_result post(const std::string& target, const nlohmann::json& body) const {
        return request("POST", target, body.dump(), {{"Content-Type", "application/json"}});
    }
    std::string api(const std::string& rest) const { return "/v0/agents/local" + rest; }

    // Sends raw bytes and returns everything received until the server closes or `wait` passes.
    std::string raw(const std::string& bytes, std::chrono::milliseconds wait = std::chrono::seconds(5)) const;

    // SIGTERM and wait; returns the exit code (or 128+signal).
    int stop(int sig = 15);
    std::string log() const; // everything the gateway wrote to stderr so far
    std::string out() const; // stdout

private:
    std::unique_ptr<temp_dir> own_root_;
    std::string root_;
    std::string out_path_, err_path_;
    pid_t pid_ = -1;
    int port_ = 0;
    bool stopped_ = false;
    int exit_code_ = -1;
};

} // namespace test
