#pragma once
// Where a request's gateway token may come from (docs/api.md §4), as pure functions of the request's fields.
#include "util/text.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ag::auth {

enum class carrier { bearer, basic, query, cookie };

struct candidate {
    carrier from;
    std::string token;
};

// Every token the request offers: Authorization (Bearer, or Basic whose password is the token), the `token`
// query parameter, the `gw_token` cookie. A request may carry several (an app's own Authorization plus our
// cookie); it is authenticated when any of them is the token.
// Every Authorization header, Cookie header and `token` parameter counts, not only the first of each.
std::vector<candidate> offered_tokens(std::span<const std::string_view> authorizations,
                                      std::span<const std::string_view> cookie_headers,
                                      const text::query_params& query);
inline std::vector<candidate> offered_tokens(std::string_view authorization, std::string_view cookie_header,
                                             const text::query_params& query) {
    return offered_tokens(std::span(&authorization, 1), std::span(&cookie_header, 1), query);
}

// The value of cookie `name` in a Cookie header (the first, when it is there twice).
std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name);
// Every value of cookie `name`.
std::vector<std::string_view> find_cookies(std::string_view cookie_header, std::string_view name);

// The Cookie header without the `name` cookie, for forwarding to proxied services.
std::string strip_cookie(std::string_view cookie_header, std::string_view name);

} // namespace ag::auth
