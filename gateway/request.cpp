#include "gateway/request.hpp"

#include "gateway/errors.hpp"

#include <boost/beast/http/fields.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

namespace ag {

std::string_view method_name(method m) noexcept {
    switch (m) {
    case method::get:
        return "GET";
    case method::head:
        return "HEAD";
    case method::post:
        return "POST";
    case method::put:
        return "PUT";
    case method::patch:
        return "PATCH";
    case method::delete_:
        return "DELETE";
    case method::options:
        return "OPTIONS";
    case method::other:
        return "OTHER";
    }
    return "OTHER";
}

std::string_view request::header(std::string_view name) const {
    if (!fields)
        return {};
    auto it = fields->find(name);
    return it == fields->end() ? std::string_view{}
                               : std::string_view(it->value().data(), it->value().size());
}

std::string_view request::param(std::string_view name) const {
    for (const auto& [k, v] : params)
        if (k == name)
            return v;
    return {};
}

nlohmann::json request::json_body() const {
    return parse_json_object(body);
}

nlohmann::json parse_json_object(std::string_view body) {
    if (text::trim(body).empty())
        return nlohmann::json::object();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
        std::string what = e.what();
        // nlohmann prefixes "[json.exception.parse_error.101] "; the client needs only the explanation.
        if (auto pos = what.find("] "); pos != std::string::npos)
            what = what.substr(pos + 2);
        throw api_error(error_kind::bad_request, "Invalid JSON: " + what);
    }
    if (!j.is_object())
        throw api_error(error_kind::bad_request, "Invalid JSON: the body must be an object");
    return j;
}

file_range::~file_range() {
    if (fd >= 0)
        ::close(fd);
}

response json_response(const nlohmann::json& value, unsigned status) {
    response r;
    r.status = status;
    r.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

response error_response(error_kind kind, std::string_view message) {
    return json_response(nlohmann::json{{"error", message}}, status_of(kind));
}

response error_response(const api_error& e) {
    response r = error_response(e.kind, e.what());
    r.headers = e.headers;
    return r;
}

} // namespace ag
