#include "gateway/errors.hpp"

namespace ag {

unsigned status_of(error_kind kind) noexcept {
    switch (kind) {
    case error_kind::bad_request:
        return 400;
    case error_kind::unauthorized:
        return 401;
    case error_kind::forbidden:
        return 403;
    case error_kind::not_found:
        return 404;
    case error_kind::method_not_allowed:
        return 405;
    case error_kind::conflict:
        return 409;
    case error_kind::too_large:
        return 413;
    case error_kind::unsupported_media:
        return 415;
    case error_kind::range_not_satisfiable:
        return 416;
    case error_kind::rate_limited:
        return 429;
    case error_kind::internal:
        return 500;
    case error_kind::not_implemented:
        return 501;
    case error_kind::bad_gateway:
        return 502;
    case error_kind::unavailable:
        return 503;
    case error_kind::gateway_timeout:
        return 504;
    }
    return 500;
}

} // namespace ag
