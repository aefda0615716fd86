#pragma once
// The one error vocabulary of the HTTP core: handlers throw api_error, dispatch and the session answer with
// error_response(kind, ...), and the one table below maps a kind to its status (docs/api.md §5).
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ag {

enum class error_kind {
    bad_request,           // 400
    unauthorized,          // 401
    forbidden,             // 403
    not_found,             // 404
    method_not_allowed,    // 405
    conflict,              // 409
    precondition_failed,   // 412
    too_large,             // 413
    unsupported_media,     // 415
    range_not_satisfiable, // 416
    rate_limited,          // 429
    internal,              // 500
    not_implemented,       // 501
    bad_gateway,           // 502
    unavailable,           // 503
    gateway_timeout,       // 504
};

unsigned status_of(error_kind kind) noexcept;

// What the client sees is `what()`; `detail`, when set, is for the operator's log only (paths, errno text,
// an upstream's answer) and never reaches the client.
struct api_error : std::runtime_error {
    api_error(error_kind k, const std::string& message,
              std::vector<std::pair<std::string, std::string>> extra_headers = {})
        : std::runtime_error(message)
        , kind(k)
        , headers(std::move(extra_headers)) {}
    api_error with_detail(std::string d) && {
        detail = std::move(d);
        return std::move(*this);
    }
    error_kind kind;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string detail;
};

// A malformed request's 400, with what the client did wrong.
[[noreturn]] inline void bad_request(const std::string& message) {
    throw api_error(error_kind::bad_request, message);
}

} // namespace ag
