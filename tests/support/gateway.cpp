#include "support/gateway.hpp"
#include "runtime/net.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace test {
using namespace ag::net;

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..")
                out.push_back(n);
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string http_result::header(const std::string& name) const {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    auto it = headers.find(lower);
    return it == headers.end() ? std::string{} : it->second;
}

namespace {

pid_t spawn_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                    const std::string& out_path, const std::string& err_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
        if (std::string_view(*e).rfind("AGENT_GATEWAY_", 0) != 0)
            env.emplace_back(*e);
    for (const auto& e : extra_env)
        env.push_back(e);
    std::vector<char*> envp, args;
    for (auto& e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        throw std::runtime_error("spawn " + argv[0]);
    return pid;
}

int wait_exit(pid_t pid, std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() > until) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

} // namespace

long peak_rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("VmHWM:"))
            return std::stol(line.substr(6));
    return -1;
}

const char* binary_path() {
    // The static build's binary in place of this build's own (ctest `static_*`, scripts/test-static).
    const char* other = std::getenv("AG_TEST_BINARY");
    return other != nullptr && *other != '\0' ? other : AGENT_GATEWAY_BINARY;
}

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

run_result run_binary(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
    temp_dir tmp;
    std::vector<std::string> argv{binary_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t pid = spawn_process(argv, extra_env, tmp / "out", tmp / "err");
    run_result r;
    r.exit_code = wait_exit(pid, std::chrono::seconds(20));
    r.out = read_file(tmp / "out");
    r.err = read_file(tmp / "err");
    return r;
}

gateway::gateway(std::vector<std::string> args, std::string root, std::vector<std::string> prefix,
                 std::vector<std::string> env) {
    if (root.empty()) {
        own_root_ = std::make_unique<temp_dir>();
        root = own_root_->path;
    }
    root_ = root;
    out_path_ = root_ + "/.gateway-stdout";
    err_path_ = root_ + "/.gateway-stderr";
    std::vector<std::string> argv = prefix;
    argv.push_back(binary_path());
    bool has_listen = std::find(args.begin(), args.end(), "--listen") != args.end();
    if (!has_listen) {
        argv.push_back("--listen");
        argv.push_back("127.0.0.1:0");
    }
    argv.push_back("--root");
    argv.push_back(root_);
    bool has_token = std::any_of(args.begin(), args.end(), [](const std::string& a) {
        return a == "--token" || a == "--token-file" || a == "--no-token";
    });
    if (!has_token) {
        argv.push_back("--token");
        argv.push_back(token);
    }
    for (auto& a : args)
        if (a != "--no-token")
            argv.push_back(a);
    pid_ = spawn_process(argv, env, out_path_, err_path_);

    // "listening on http[s]://127.0.0.1:PORT"
    auto loopback_port = [](const std::string& log) -> std::optional<int> {
        for (std::string_view prefix : {"listening on http://127.0.0.1:", "listening on https://127.0.0.1:"})
            if (auto at = log.find(prefix); at != std::string::npos) {
                auto digits = log.substr(at + prefix.size());
                auto n = std::find_if_not(digits.begin(), digits.end(),
                                          [](unsigned char c) { return std::isdigit(c) != 0; }) -
                         digits.begin();
                if (n > 0)
                    return std::stoi(digits.substr(0, static_cast<std::size_t>(n)));
            }
        return std::nullopt;
    };
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
        std::string err = read_file(err_path_);
        if (auto port = loopback_port(err)) {
            port_ = *port;
            return;
        }
        if (has_listen && err.find("listening on") != std::string::npos)
            return;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            stopped_ = true;
            throw std::runtime_error("agent-gateway exited at start: " + err);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("agent-gateway did not start listening: " + read_file(err_path_));
}

gateway::~gateway() {
    // SIGTERM, not SIGKILL: the daemon then stops its engine too, instead of leaving it orphaned.
    if (!stopped_)
        stop(SIGTERM);
}

int gateway::stop(int sig) {
    if (stopped_)
        return exit_code_;
    ::kill(pid_, sig);
    exit_code_ = wait_exit(pid_, std::chrono::seconds(30));
    stopped_ = true;
    return exit_code_;
}

std::string gateway::log() const {
    return read_file(err_path_);
}
std::string gateway::out() const {
    return read_file(out_path_);
}

http_result gateway::request(const std::string& method, const std::string& target, const std::string& body,
                             header_list headers, bool auth) const {
    asio::io_context ioc;
    asio::ip::tcp::socket sock(ioc);
    sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (auth)
        req.set(http::field::authorization, std::string("Bearer ") + token);
    // The first of a name replaces the default (Host, Authorization); a repeated name adds a second header.
    std::vector<std::string> seen;
    for (auto& [k, v] : headers) {
        if (std::find(seen.begin(), seen.end(), k) == seen.end()) {
            req.set(k, v);
            seen.push_back(k);
        } else {
            req.insert(k, v);
        }
    }
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT")
        req.prepare_payload();
    http::write(sock, req);
    boost::beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ULL << 32);
    if (method == "HEAD")
        parser.skip(true);
    http::read(sock, buf, parser);
    auto& res = parser.get();
    http_result r;
    r.status = static_cast<int>(res.result_int());
    for (auto& f : res) {
        std::string name(f.name_string());
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        if (r.headers.count(name))
            r.headers[name] += ", " + std::string(f.value());
        else
            r.headers[name] = std::string(f.value());
    }
    r.body = std::move(res.body());
    return r;
}

std::string gateway::raw(const std::string& bytes, std::chrono::milliseconds wait) const {
    asio::io_context ioc;
    asio::ip::tcp::socket sock(ioc);
    sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
    asio::write(sock, asio::buffer(bytes));
    std::string out;
    auto until = std::chrono::steady_clock::now() + wait;
    int fd = sock.native_handle();
    char buf[65536];
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now())
                .count());
        if (::poll(&p, 1, std::max(left, 1)) <= 0)
            break;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

} // namespace test
