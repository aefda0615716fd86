#pragma once
// What handlers see of a request and what they return. Beast stays behind request.cpp so handlers compile
// light.
#include "util/text.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::beast::http {
template <class Allocator> class basic_fields;
}

namespace ag {

using http_fields = boost::beast::http::basic_fields<std::allocator<char>>;

enum class method { get, head, post, put, patch, delete_, options, other };
std::string_view method_name(method m) noexcept;

// A request body read piece by piece, for routes with route_options::stream_body (git push, proxying).
class body_reader {
public:
    virtual ~body_reader() = default;
    // The next piece; nullopt at the end of the body. Throws api_error: 413 past the route's limit, 400 when
    // the body is malformed or the client goes away mid-body.
    virtual boost::asio::awaitable<std::optional<std::string>> read_some() = 0;
};

// A response body written piece by piece (sent with chunked transfer encoding).
class body_writer {
public:
    virtual ~body_writer() = default;
    // False when the client went away: stop producing.
    virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;

    // For a body that waits on its source between writes (a followed process's output, a streaming exec,
    // docs/api.md §18): idle() returns once wake() was called (since the last idle()), or with false once the
    // client closed the connection or the daemon began to stop: stop producing. While it waits the
    // connection's I/O deadline does not run. Both on the connection's thread.
    virtual void wake() = 0;
    virtual boost::asio::awaitable<bool> idle() = 0;
};

struct request {
    method verb = method::get;
    std::string_view target; // raw, as received (never log it: use text::redact_target)
    std::string path;        // percent-decoded path without the query
    text::query_params query;
    std::vector<std::pair<std::string, std::string>> params; // from the route pattern
    std::string body;
    std::string remote_address; // the client: the peer, or what a trusted proxy says (docs/api.md §4)
    std::string auth_token;     // WebSocket upgrades: the token the request was authenticated with
    bool secure = false;

    // A request header by name (case-insensitive); empty when absent.
    std::string_view header(std::string_view name) const;
    std::string_view param(std::string_view name) const;
    // The body as a JSON object; an empty body counts as {}. Throws api_error 400 "Invalid JSON: ..." or when
    // the body is not an object.
    nlohmann::json json_body() const;

    body_reader* body_stream = nullptr;  // set instead of `body` for streaming routes
    std::shared_ptr<void> upgrade_state; // what a WebSocket route's check prepared for its handler
    const http_fields* fields = nullptr; // the request's header fields, set by the session
};

// An open file range sent with sendfile where the transport allows it.
struct file_range {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    explicit file_range(int f, std::uint64_t off, std::uint64_t len)
        : fd(f)
        , offset(off)
        , length(len) {}
    file_range(const file_range&) = delete;
    file_range& operator=(const file_range&) = delete;
    ~file_range();
};

struct response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::shared_ptr<file_range> file; // when set, the body is this range of the file
    // When set, the body is whatever this writes (chunked); `body` and `file` are ignored.
    std::function<boost::asio::awaitable<void>(body_writer&)> stream;
};

// A JSON object from a request body; empty counts as {}. Throws api_error 400 "Invalid JSON: ...".
nlohmann::json parse_json_object(std::string_view body);

enum class error_kind;
struct api_error;

response json_response(const nlohmann::json& value, unsigned status = 200);
// {"error": message} with the status of `kind` (gateway/errors.hpp).
response error_response(error_kind kind, std::string_view message);
// What a handler's api_error becomes: its status, message and headers (never its detail).
response error_response(const api_error& e);

} // namespace ag
