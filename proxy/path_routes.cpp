#include "proxy/path_routes.hpp"

#include "gateway/errors.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace ag::proxy {
namespace {

constexpr std::size_t max_routes = 10;

[[noreturn]] void refuse(const std::string& message) {
    throw api_error(error_kind::bad_request, message);
}

bool prefix_characters_ok(std::string_view p) {
    return std::all_of(p.begin(), p.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '/'; });
}

// "/v0", "/v0/x" and "/v0x" all start with /v0: none may be a route (the API, the chat and the Control UI
// are the daemon's).
bool reserved(std::string_view p) {
    return p.starts_with("/v0") || p.starts_with("/chat") || p.starts_with("/config");
}

} // namespace

std::uint16_t service_port(const nlohmann::json& value, const std::vector<std::uint16_t>& own_ports,
                           const char* field) {
    if (!value.is_number_integer())
        refuse(fmt::format("{} must be an integer", field));
    auto p = value.get<long long>();
    if (p < 1025 || p > 65535)
        refuse(fmt::format("{} must be between 1025 and 65535", field));
    if (std::find(own_ports.begin(), own_ports.end(), p) != own_ports.end())
        refuse(fmt::format("{} {} is the gateway's own", field, p));
    return static_cast<std::uint16_t>(p);
}

route_list parse_routes(const nlohmann::json& mappings, const std::vector<std::uint16_t>& own_ports,
                        const char* path_key) {
    route_list out;
    if (mappings.is_null())
        return out;
    if (!mappings.is_array())
        refuse("mappings must be an array");
    if (mappings.size() > max_routes)
        refuse(fmt::format("At most {} path routes", max_routes));
    for (const auto& m : mappings) {
        if (!m.is_object())
            refuse("Each mapping must be an object");
        auto port = m.find("port");
        const std::uint16_t p = service_port(port == m.end() ? nlohmann::json() : *port, own_ports, "port");
        auto path = m.find(path_key);
        if (path == m.end() || !path->is_string())
            refuse(fmt::format("{} must be a string", path_key));
        std::string prefix = path->get<std::string>();
        if (!prefix.starts_with("/"))
            refuse(fmt::format("{} must start with /", path_key));
        if (!prefix_characters_ok(prefix))
            refuse(fmt::format("{} may hold only letters, digits, '-', '_' and '/'", path_key));
        if (reserved(prefix))
            refuse(fmt::format("{} must not start with /v0, /chat or /config", path_key));
        while (prefix.size() > 1 && prefix.back() == '/')
            prefix.pop_back();
        bool protect = true;
        if (auto pr = m.find("protected"); pr != m.end() && !pr->is_null()) {
            if (!pr->is_boolean())
                refuse("protected must be a boolean");
            protect = pr->get<bool>();
        }
        if (std::any_of(out.begin(), out.end(), [&](const path_route& r) { return r.prefix == prefix; }))
            refuse(fmt::format("{} '{}' is given twice", path_key, prefix));
        out.push_back({p, std::move(prefix), protect});
    }
    return out;
}

nlohmann::json to_json(const route_list& routes) {
    auto a = nlohmann::json::array();
    for (const auto& r : routes)
        a.push_back({{"port", r.port}, {"pathPrefix", r.prefix}, {"protected", r.protect}});
    return a;
}

namespace {

// The prefix rule of longest_match, `path` and `prefix` already in the same reading.
bool under(std::string_view path, std::string_view prefix) {
    return prefix == "/" ||
           (path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/'));
}

std::string lower_case(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string without_params(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    bool in_params = false;
    for (char c : s) {
        if (c == '/')
            in_params = false;
        else if (c == ';')
            in_params = true;
        if (!in_params)
            out.push_back(c);
    }
    return out;
}

std::string slashes_merged(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (!(c == '/' && !out.empty() && out.back() == '/'))
            out.push_back(c);
    return out;
}

} // namespace

const path_route* longest_match(const route_list& routes, std::string_view path) {
    const path_route* best = nullptr;
    for (const auto& r : routes) {
        if (under(path, r.prefix) && (!best || r.prefix.size() > best->prefix.size()))
            best = &r;
    }
    return best;
}

bool protected_in_any_reading(const route_list& routes, std::string_view path) {
    // The usual case costs nothing: no protected route, or a path no reading changes.
    if (std::none_of(routes.begin(), routes.end(), [](const path_route& r) { return r.protect; }))
        return false;
    const bool plain =
        std::none_of(path.begin(), path.end(), [&](char c) { return c == ';' || (c >= 'A' && c <= 'Z'); }) &&
        path.find("//") == std::string_view::npos;
    if (plain) {
        const auto* r = longest_match(routes, path);
        return r && r->protect;
    }
    // Prefixes hold only letters, digits, '-', '_' and '/': read them the way the path is read.
    for (int how = 0; how < 8; ++how) {
        std::string reading(path);
        if (how & 1)
            reading = lower_case(reading);
        if (how & 2)
            reading = without_params(reading);
        if (how & 4)
            reading = slashes_merged(reading);
        const path_route* best = nullptr;
        std::size_t best_size = 0;
        for (const auto& r : routes) {
            std::string prefix = r.prefix;
            if (how & 1)
                prefix = lower_case(prefix);
            if (how & 4)
                prefix = slashes_merged(prefix);
            if (under(reading, prefix) && (!best || prefix.size() > best_size)) {
                best = &r;
                best_size = prefix.size();
            }
        }
        if (best && best->protect)
            return true;
    }
    return false;
}

void warn_about_shared_origin(const route_list& routes) {
    for (const auto& r : routes)
        if (!r.protect)
            log::warn(
                "path routes: {} is public and shares the API's origin: script it serves can call /v0 with "
                "the owner's cookie; serve an app on a subdomain (…/domains) to isolate it",
                r.prefix);
}

path_routes::path_routes(std::string file)
    : file_(std::move(file))
    , current_(std::make_shared<route_list>()) {}

bool path_routes::read_stored() {
    auto text = fs_util::read_file(file_);
    if (!text)
        return false;
    route_list list;
    try {
        // Checked against the ports this daemon listens on now (a changed --listen) one by one: such a
        // route would send requests back through the daemon, so it alone is not served (docs/api.md §11).
        list = parse_routes(nlohmann::json::parse(*text).at("mappings"), {});
        std::erase_if(list, [&](const path_route& r) {
            if (std::find(own_ports_.begin(), own_ports_.end(), r.port) == own_ports_.end())
                return false;
            log::warn("path routes: {} -> port {} is not served: the gateway itself listens there", r.prefix,
                      r.port);
            return true;
        });
    } catch (const std::exception& e) {
        log::warn("path routes: {} cannot be used ({}); serving no routes until it is fixed", file_,
                  e.what());
    }
    warn_about_shared_origin(list);
    std::lock_guard lock(mutex_);
    current_ = std::make_shared<route_list>(std::move(list));
    return true;
}

void path_routes::load(const std::string& manifest_routes) {
    fs_util::remove_leftover_temps(file_);
    if (read_stored() || manifest_routes.empty())
        return;
    try {
        replace(parse_routes(nlohmann::json::parse(manifest_routes), own_ports_, "path"));
        log::info("path routes: {} seeded from the manifest", current()->size());
    } catch (const std::exception& e) {
        log::warn("path routes: the manifest's routes cannot be used ({})", e.what());
    }
}

void path_routes::reload() {
    read_stored();
}

std::shared_ptr<const route_list> path_routes::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

void path_routes::replace(route_list routes) {
    std::lock_guard writing(write_mutex_);
    fs_util::write_file_atomic(file_, nlohmann::json({{"mappings", to_json(routes)}}).dump(2) + "\n", 0600);
    warn_about_shared_origin(routes);
    auto next = std::make_shared<route_list>(std::move(routes));
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
}

} // namespace ag::proxy
