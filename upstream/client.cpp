#include "upstream/client.hpp"
#include "util/scope_exit.hpp"

#include "runtime/net.hpp"
#include "util/text.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>

namespace ag::upstream {
namespace {

// The kernel's own timeouts on a blocking socket: connect(2) honours SO_SNDTIMEO, and every send and recv
// Beast makes gives up after `timeout` without progress.
void set_timeouts(tcp::socket& s, std::chrono::seconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count()), 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

tcp::socket connect(asio::io_context& ioc, const endpoint& to, std::chrono::seconds timeout) {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc);
    auto addresses = resolver.resolve(to.host, to.port, ec);
    if (ec)
        throw error(to.url + ": " + ec.message(), true);
    std::string why = "no address";
    for (const auto& a : addresses) {
        tcp::socket s(ioc);
        s.open(a.endpoint().protocol(), ec);
        if (ec)
            continue;
        set_timeouts(s, timeout);
        s.connect(a.endpoint(), ec);
        if (!ec)
            return s;
        why = ec.message();
    }
    throw error(to.url + " unreachable: " + why, true);
}

} // namespace

endpoint endpoint::parse(std::string_view url) {
    endpoint e;
    e.url = std::string(url);
    if (!url.starts_with("http://"))
        throw std::invalid_argument("not an http:// URL: " + e.url);
    url.remove_prefix(7);
    auto slash = url.find('/');
    std::string_view hostport = url.substr(0, slash);
    e.prefix = slash == std::string_view::npos ? "" : std::string(url.substr(slash));
    while (!e.prefix.empty() && e.prefix.back() == '/')
        e.prefix.pop_back();
    auto colon = hostport.rfind(':');
    if (colon != std::string_view::npos && hostport.find(']', colon) == std::string_view::npos) {
        e.host = std::string(hostport.substr(0, colon));
        e.port = std::string(hostport.substr(colon + 1));
    } else {
        e.host = std::string(hostport);
    }
    if (e.host.starts_with("[") && e.host.ends_with("]"))
        e.host = e.host.substr(1, e.host.size() - 2);
    if (e.host.empty())
        throw std::invalid_argument("no host in " + e.url);
    return e;
}

std::string_view response::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (text::iequals(k, name))
            return v;
    return {};
}

void abort_switch::trip() {
    std::lock_guard lock(mutex_);
    tripped_ = true;
    for (int fd : fds_)
        ::shutdown(fd, SHUT_RDWR);
}

bool abort_switch::tripped() const {
    std::lock_guard lock(mutex_);
    return tripped_;
}

bool abort_switch::attach(int fd) {
    std::lock_guard lock(mutex_);
    if (tripped_)
        return false;
    fds_.push_back(fd);
    return true;
}

void abort_switch::detach(int fd) {
    std::lock_guard lock(mutex_);
    std::erase(fds_, fd);
}

response fetch(const endpoint& to, const request& req, const limits& lim) {
    asio::io_context ioc(1);
    if (lim.abort && lim.abort->tripped())
        throw error(to.url + ": stopped", true);
    tcp::socket s = connect(ioc, to, lim.timeout);
    if (lim.abort && !lim.abort->attach(s.native_handle()))
        throw error(to.url + ": stopped", true);
    scope_exit detach([&lim, fd = s.native_handle()] {
        if (lim.abort)
            lim.abort->detach(fd);
    });
    auto broke = [&](const boost::system::error_code& ec, std::string_view doing) {
        return error(to.url + ": " + std::string(doing) + ": " + ec.message(), true);
    };

    http::request<http::empty_body> head{http::string_to_verb(req.method), to.prefix + req.target, 11};
    head.set(http::field::host, to.host + ":" + to.port);
    head.set(http::field::connection, "close");
    for (const auto& [k, v] : req.headers)
        head.insert(k, v);
    boost::system::error_code ec;
    if (req.stream) {
        head.chunked(true);
        http::request_serializer<http::empty_body> sr(head);
        http::write_header(s, sr, ec);
        if (ec)
            throw broke(ec, "sending the request");
        (*req.stream)([&](std::string_view piece) {
            if (!ec && !piece.empty())
                asio::write(s, http::make_chunk(asio::const_buffer(piece.data(), piece.size())), ec);
            return !ec;
        });
        if (!ec)
            asio::write(s, http::make_chunk_last(), ec);
    } else {
        http::request<http::string_body> whole(std::move(head), req.body);
        whole.prepare_payload();
        http::write(s, whole, ec);
    }
    if (ec)
        throw broke(ec, "sending the request");

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(lim.max_body);
    http::read(s, buffer, parser, ec);
    if (ec == http::error::body_limit)
        throw error(to.url + ": the answer is over " + std::to_string(lim.max_body) + " bytes", false);
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::would_block || ec == asio::error::try_again)
        throw broke(ec, "no whole answer");
    if (ec)
        throw error(to.url + ": not an HTTP answer: " + ec.message(), true);

    response out;
    auto& msg = parser.get();
    out.status = msg.result_int();
    for (const auto& f : msg)
        out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    out.body = std::move(msg.body());
    return out;
}

} // namespace ag::upstream
