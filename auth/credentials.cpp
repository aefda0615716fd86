#include "auth/credentials.hpp"

#include "util/base64.hpp"

namespace ag::auth {

std::vector<std::string_view> find_cookies(std::string_view header, std::string_view name) {
    std::vector<std::string_view> out;
    while (!header.empty()) {
        auto semi = header.find(';');
        auto part = text::trim(header.substr(0, semi));
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        auto eq = part.find('=');
        if (eq != std::string_view::npos && text::trim(part.substr(0, eq)) == name) {
            auto v = text::trim(part.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
                v = v.substr(1, v.size() - 2);
            out.push_back(v);
        }
    }
    return out;
}

std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) {
    auto all = find_cookies(header, name);
    if (all.empty())
        return std::nullopt;
    return all.front();
}

std::string strip_cookie(std::string_view header, std::string_view name) {
    std::string out;
    while (!header.empty()) {
        auto semi = header.find(';');
        auto part = text::trim(header.substr(0, semi));
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        auto eq = part.find('=');
        if (part.empty() || (eq != std::string_view::npos && text::trim(part.substr(0, eq)) == name))
            continue;
        if (!out.empty())
            out += "; ";
        out.append(part);
    }
    return out;
}

std::vector<candidate> offered_tokens(std::span<const std::string_view> authorizations,
                                      std::span<const std::string_view> cookie_headers,
                                      const text::query_params& query) {
    std::vector<candidate> out;
    for (std::string_view authorization : authorizations) {
        auto auth = text::trim(authorization);
        auto space = auth.find(' ');
        if (space == std::string_view::npos)
            continue;
        auto scheme = auth.substr(0, space);
        auto value = text::trim(auth.substr(space + 1));
        if (text::iequals(scheme, "Bearer") && !value.empty()) {
            out.push_back({carrier::bearer, std::string(value)});
        } else if (text::iequals(scheme, "Basic")) {
            std::string decoded;
            if (base64::decode(value, decoded)) {
                auto colon = decoded.find(':');
                // The username is ignored; the password is the token.
                if (colon != std::string::npos && colon + 1 < decoded.size())
                    out.push_back({carrier::basic, decoded.substr(colon + 1)});
            }
        }
    }
    for (const auto& [key, value] : query)
        if (key == "token" && !value.empty())
            out.push_back({carrier::query, value});
    for (std::string_view header : cookie_headers)
        for (auto c : find_cookies(header, "gw_token"))
            if (!c.empty())
                out.push_back({carrier::cookie, std::string(c)});
    return out;
}

} // namespace ag::auth
