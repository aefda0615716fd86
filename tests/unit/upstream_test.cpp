// upstream::fetch against a real socket on loopback, answering what each case needs.
#include "upstream/client.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

using namespace ag;

namespace {

// Accepts one connection, reads the request (through a chunked body's last chunk, if any) and hands it
// with the socket to `answer`. Every read is bounded by SO_RCVTIMEO.
class one_shot_server {
public:
    explicit one_shot_server(std::function<void(int fd, const std::string& request)> answer) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(listener_, 4) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this, answer] {
            int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0)
                return;
            timeval tv{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string req;
            char buf[4096];
            auto complete = [&] {
                auto end = req.find("\r\n\r\n");
                if (end == std::string::npos)
                    return false;
                if (req.find("Transfer-Encoding: chunked") == std::string::npos)
                    return true;
                return req.find("\r\n0\r\n\r\n", end) != std::string::npos;
            };
            while (!complete()) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0)
                    break;
                req.append(buf, static_cast<std::size_t>(n));
            }
            request_ = req;
            answer(fd, req);
            ::close(fd);
        });
    }
    ~one_shot_server() {
        ::shutdown(listener_, SHUT_RDWR);
        thread_.join();
        ::close(listener_);
    }
    upstream::endpoint at(const std::string& prefix = "") const {
        return upstream::endpoint::parse("http://127.0.0.1:" + std::to_string(port_) + prefix);
    }
    std::string request() {
        thread_.join();
        thread_ = std::thread([] {});
        return request_;
    }

private:
    int listener_ = -1;
    unsigned short port_ = 0;
    std::thread thread_;
    std::string request_;
};

void send_text(int fd, std::string_view s) {
    ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
}

} // namespace

TEST_CASE("upstream: a streamed request body goes chunked; a chunked answer comes back whole") {
    one_shot_server server([](int fd, const std::string&) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
    });
    upstream::body_producer body = [](const std::function<bool(std::string_view)>& emit) {
        emit("first ");
        emit("");
        emit("second");
    };
    upstream::request req;
    req.method = "POST";
    req.target = "/api/v0/dag/import?pin-roots=true";
    req.headers = {{"Content-Type", "application/vnd.ipld.car"}};
    req.stream = &body;
    auto r = upstream::fetch(server.at("/rpc/"), req);
    CHECK(r.status == 200);
    CHECK(r.body == "hello, world");
    CHECK(r.header("content-type") == "text/plain");
    auto sent = server.request();
    CHECK(sent.starts_with("POST /rpc/api/v0/dag/import?pin-roots=true HTTP/1.1\r\n"));
    CHECK(sent.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(sent.find("Connection: close\r\n") != std::string::npos);
    CHECK(sent.ends_with("\r\n\r\n6\r\nfirst \r\n6\r\nsecond\r\n0\r\n\r\n"));
}

TEST_CASE("upstream: any status comes back; what is not a whole HTTP answer is unreachable") {
    {
        one_shot_server server([](int fd, const std::string&) {
            send_text(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
        });
        auto r = upstream::fetch(server.at(), {});
        CHECK(r.status == 500);
        CHECK(r.body == "oops");
    }
    auto failure = [](const upstream::endpoint& to, const upstream::limits& lim = {}) -> upstream::error {
        try {
            upstream::fetch(to, {}, lim);
        } catch (const upstream::error& e) {
            return e;
        }
        FAIL("fetch did not throw");
        return upstream::error("", false);
    };
    {
        one_shot_server server([](int fd, const std::string&) { send_text(fd, "SSH-2.0-OpenSSH\r\n\r\n"); });
        CHECK(failure(server.at()).unreachable);
    }
    {
        one_shot_server server([](int fd, const std::string&) {
            send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short");
        });
        CHECK(failure(server.at()).unreachable);
    }
    {
        one_shot_server server([](int fd, const std::string&) {
            send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
        });
        upstream::limits small;
        small.max_body = 10;
        auto e = failure(server.at(), small);
        CHECK_FALSE(e.unreachable);
        CHECK(std::string(e.what()).find("over 10 bytes") != std::string::npos);
    }
    {
        // Silent: it reads the request and never answers; the read deadline ends the wait.
        one_shot_server server([](int fd, const std::string&) {
            char c;
            ::recv(fd, &c, 1, 0); // returns when the client gives up and closes
        });
        upstream::limits quick;
        quick.timeout = std::chrono::seconds(1);
        CHECK(failure(server.at(), quick).unreachable);
    }
    // Nobody listening.
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(s); // the port is free and closed
    CHECK(failure(upstream::endpoint::parse("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))))
              .unreachable);
}

TEST_CASE("upstream: endpoints") {
    auto e = upstream::endpoint::parse("http://[::1]:5001/base/");
    CHECK(e.host == "::1");
    CHECK(e.port == "5001");
    CHECK(e.prefix == "/base");
    CHECK(upstream::endpoint::parse("http://node").port == "80");
    CHECK_THROWS_AS(upstream::endpoint::parse("https://node"), std::invalid_argument);
    CHECK_THROWS_AS(upstream::endpoint::parse("http://"), std::invalid_argument);
}
