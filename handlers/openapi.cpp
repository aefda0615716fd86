// GET /v0/openapi.json (docs/api.md §3, §21): the OpenAPI 3.1 document of every route, without a token.
#include "handlers/openapi_document.hpp"
#include "handlers/routes.hpp"

#include "gateway/router.hpp"
#include "handlers/embedded_answer.hpp"

namespace ag {
namespace {

boost::asio::awaitable<response> get_document(request& req) {
    co_return embedded_answer(openapi_file(), req, "application/json");
}

} // namespace

void openapi_routes::add_to(router& r) const {
    route_options open;
    open.access = route_access::open;
    r.add(method::get, "/v0/openapi.json", get_document, open);
}

} // namespace ag
