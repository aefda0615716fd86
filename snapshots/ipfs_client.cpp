#include "snapshots/ipfs_client.hpp"

#include <nlohmann/json.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ag::snapshots {

namespace {

struct socket_fd {
    int fd = -1;
    ~socket_fd() {
        if (fd >= 0)
            ::close(fd);
    }
};

void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0)
            throw ipfs_error(std::string("IPFS node: send failed: ") + std::strerror(errno));
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void send_chunk(int fd, std::string_view data) {
    if (data.empty())
        return;
    char head[32];
    int n = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
    send_all(fd, std::string_view(head, static_cast<std::size_t>(n)));
    send_all(fd, data);
    send_all(fd, "\r\n");
}

std::string dechunk(std::string_view body) {
    std::string out;
    while (true) {
        auto eol = body.find("\r\n");
        if (eol == std::string_view::npos)
            break;
        std::size_t len = std::strtoul(std::string(body.substr(0, eol)).c_str(), nullptr, 16);
        body.remove_prefix(eol + 2);
        if (len == 0 || len > body.size())
            break;
        out.append(body.substr(0, len));
        body.remove_prefix(std::min(body.size(), len + 2));
    }
    return out;
}

} // namespace

ipfs_client::ipfs_client(const std::string& url)
    : url_(url) {
    std::string_view rest = url;
    if (!rest.starts_with("http://"))
        throw ipfs_error("--ipfs-api must be an http:// URL");
    rest.remove_prefix(7);
    auto slash = rest.find('/');
    std::string_view hostport = rest.substr(0, slash);
    prefix_ = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
    while (!prefix_.empty() && prefix_.back() == '/')
        prefix_.pop_back();
    auto colon = hostport.rfind(':');
    host_ = std::string(hostport.substr(0, colon));
    port_ = colon == std::string_view::npos ? "80" : std::string(hostport.substr(colon + 1));
    if (host_.starts_with("[") && host_.ends_with("]"))
        host_ = host_.substr(1, host_.size() - 2);
}

std::string ipfs_client::post(const std::string& target, const std::string& content_type,
                              const body_producer* body) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res); rc != 0)
        throw ipfs_error("IPFS node " + url_ + ": " + ::gai_strerror(rc), true);
    socket_fd s;
    std::string why = "no address";
    for (addrinfo* a = res; a && s.fd < 0; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        timeval tv{static_cast<time_t>(timeout_.count()), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            s.fd = fd;
        } else {
            why = std::strerror(errno);
            ::close(fd);
        }
    }
    ::freeaddrinfo(res);
    if (s.fd < 0)
        throw ipfs_error("IPFS node " + url_ + " unreachable: " + why, true);

    std::string head = "POST " + prefix_ + target + " HTTP/1.1\r\nHost: " + host_ + ":" + port_ +
                       "\r\nConnection: close\r\n";
    if (body) {
        head += "Content-Type: " + content_type + "\r\nTransfer-Encoding: chunked\r\n\r\n";
        send_all(s.fd, head);
        (*body)([&](std::string_view bytes) {
            send_chunk(s.fd, bytes);
            return true;
        });
        send_all(s.fd, "0\r\n\r\n");
    } else {
        send_all(s.fd, head + "Content-Length: 0\r\n\r\n");
    }

    std::string reply;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
        if (n < 0)
            throw ipfs_error("IPFS node " + url_ + ": no answer: " + std::strerror(errno), true);
        if (n == 0)
            break;
        reply.append(buf, static_cast<std::size_t>(n));
    }
    auto end_of_head = reply.find("\r\n\r\n");
    if (!reply.starts_with("HTTP/1.") || end_of_head == std::string::npos)
        throw ipfs_error("IPFS node " + url_ + ": not an HTTP answer", true);
    const int status = std::atoi(reply.c_str() + 9);
    std::string headers = reply.substr(0, end_of_head);
    std::string answer = reply.substr(end_of_head + 4);
    for (auto& c : headers)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (headers.find("transfer-encoding: chunked") != std::string::npos)
        answer = dechunk(answer);
    if (status != 200)
        throw ipfs_error("IPFS node " + url_ + " answered " + std::to_string(status) + ": " +
                         answer.substr(0, 200));
    return answer;
}

std::string ipfs_client::import_car(const body_producer& produce) {
    const std::string boundary = "agent-gateway-car-7f3c2a91";
    body_producer multipart = [&](const std::function<bool(std::string_view)>& emit) {
        emit("--" + boundary +
             "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"snapshot.car\"\r\n"
             "Content-Type: application/vnd.ipld.car\r\n\r\n");
        produce(emit);
        emit("\r\n--" + boundary + "--\r\n");
    };
    std::string body =
        post("/api/v0/dag/import?pin-roots=true", "multipart/form-data; boundary=" + boundary, &multipart);
    // One JSON object per line; the one with "Root" names the pinned root.
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto nl = body.find('\n', pos);
        auto line = body.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? body.size() : nl + 1;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("Root"))
            continue;
        const auto& root = j["Root"];
        std::string err = root.value("PinErrorMsg", "");
        if (!err.empty())
            throw ipfs_error("IPFS node " + url_ + " could not pin: " + err);
        if (root.contains("Cid") && root["Cid"].is_object())
            return root["Cid"].value("/", "");
    }
    throw ipfs_error("IPFS node " + url_ + ": dag/import named no root");
}

std::string ipfs_client::export_car(const std::string& root) {
    return post("/api/v0/dag/export?arg=" + root, "", nullptr);
}

} // namespace ag::snapshots
