// GET /v0/openapi.json (docs/api.md §3, §21): the OpenAPI 3.1 document of every route, without a token.
#include "handlers/openapi_document.hpp"
#include "handlers/routes.hpp"

#include "gateway/router.hpp"
#include "handlers/file_rules.hpp"

#include <memory>
#include <string>

namespace ag {
namespace {

boost::asio::awaitable<response> get_document(std::shared_ptr<const std::string> etag, request& req) {
    response res;
    res.headers = {{"ETag", *etag}, {"Cache-Control", "no-cache"}};
    if (auto inm = req.header("If-None-Match"); !inm.empty() && file_rules::etag_matches(inm, *etag)) {
        res.status = 304;
        res.content_type.clear();
        co_return res;
    }
    res.body = std::string(openapi_document());
    co_return res;
}

} // namespace

void openapi_routes::add_to(router& r) const {
    // The document changes only with the binary: its hash is a strong validator, made once.
    auto etag = std::make_shared<const std::string>(
        "\"" + std::string(openapi_document_sha256().substr(0, 32)) + "\"");
    route_options open;
    open.access = route_access::open;
    r.add(
        method::get, "/v0/openapi.json", [etag](request& req) { return get_document(etag, req); }, open);
}

} // namespace ag
