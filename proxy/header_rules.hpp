#pragma once
// What of a request's head reaches a service and what of its answer's head reaches the client (docs/api.md
// §4, §10, §11): hop-by-hop fields (RFC 9110 §7.6.1) stay behind, our credentials never leave (not in
// Authorization, a cookie, the query or a Referer), X-Forwarded-* say who asked, and a service cannot set the
// owner's cookie. Pure string work on parsed heads: tested alone (tests/unit/proxy_rules_test.cpp).
#include "proxy/forward.hpp"

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <string>
#include <string_view>

namespace ag::proxy {

// How the answer's body goes to the client.
enum class framing { none, length, chunked, until_close };

// The request head as the service gets it. `attribute`: whether X-Forwarded-* go on (see
// forward_options::attribute_local_clients).
std::string request_head(const pass_exchange& x, const auth::token_store& tokens,
                         const forward_options& options, bool upgrade, bool attribute);

// The answer's head as the client gets it, framed as `how` says.
std::string response_head(const boost::beast::http::response_parser<boost::beast::http::buffer_body>& rp,
                          const pass_exchange& x, framing how, bool keep_alive);

// "name: value\r\n".
void add_field(std::string& out, std::string_view name, std::string_view value);

// What the service sees of the request's credentials (docs/api.md §4): the target without `token`
// parameters.
std::string target_without_token(std::string_view target);

} // namespace ag::proxy
