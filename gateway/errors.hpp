#pragma once
// The one error type handlers throw to abort a request, and the one table mapping it to a status.
#include <stdexcept>
#include <string>
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

// What the client sees is `message`; details for the operator go to the log separately.
struct api_error : std::runtime_error {
    api_error(error_kind k, const std::string& message,
              std::vector<std::pair<std::string, std::string>> extra_headers = {})
        : std::runtime_error(message)
        , kind(k)
        , headers(std::move(extra_headers)) {}
    error_kind kind;
    std::vector<std::pair<std::string, std::string>> headers;
};

} // namespace ag
