#include "handlers/file_query.hpp"

#include "files/paths.hpp"
#include "gateway/errors.hpp"

namespace ag::file_query {

std::string path(const request& req, std::string_view root, std::string_view key) {
    auto p = text::find_param(req.query, key);
    if (!p || p->empty())
        throw api_error(error_kind::bad_request, "Missing path");
    return files::normalise(*p, root);
}

bool flag(const request& req, std::string_view name) {
    auto v = text::find_param(req.query, name);
    if (!v || v->empty() || *v == "false" || *v == "0")
        return false;
    if (*v == "true" || *v == "1")
        return true;
    throw api_error(error_kind::bad_request, std::string(name) + " must be true or false");
}

} // namespace ag::file_query
