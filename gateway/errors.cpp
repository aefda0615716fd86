#include "gateway/errors.hpp"

#include <array>

namespace ag {
namespace {

struct entry {
    error_kind kind;
    unsigned status;
};

// In the enum's order; the static_assert below keeps the two in step.
constexpr std::array table{
    entry{error_kind::bad_request, 400},
    entry{error_kind::unauthorized, 401},
    entry{error_kind::forbidden, 403},
    entry{error_kind::not_found, 404},
    entry{error_kind::method_not_allowed, 405},
    entry{error_kind::conflict, 409},
    entry{error_kind::precondition_failed, 412}, // PUT …/files preconditions (docs/api.md §19)
    entry{error_kind::too_large, 413},
    entry{error_kind::unsupported_media, 415},
    entry{error_kind::range_not_satisfiable, 416},
    entry{error_kind::rate_limited, 429},
    entry{error_kind::internal, 500},
    entry{error_kind::not_implemented, 501},
    entry{error_kind::bad_gateway, 502},
    entry{error_kind::unavailable, 503},
    entry{error_kind::gateway_timeout, 504},
};

constexpr bool in_enum_order() {
    for (std::size_t i = 0; i < table.size(); ++i)
        if (static_cast<std::size_t>(table[i].kind) != i)
            return false;
    return true;
}
static_assert(in_enum_order() && table.back().kind == error_kind::gateway_timeout);

} // namespace

unsigned status_of(error_kind kind) noexcept {
    auto i = static_cast<std::size_t>(kind);
    return i < table.size() ? table[i].status : 500;
}

} // namespace ag
