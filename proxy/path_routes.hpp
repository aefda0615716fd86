#pragma once
// The agent's path routes (docs/api.md §11): which path prefixes go to which local port. Kept in
// STATE/port-forwarding.json (written atomically), seeded from the manifest's `routes` at the first start,
// read again on SIGHUP. Thread-safe: every I/O thread matches against the current list while a PUT replaces
// it.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ag::proxy {

struct path_route {
    std::uint16_t port = 0;
    std::string prefix; // "/", or "/app" (no trailing slash)
    bool protect = true;
};
using route_list = std::vector<path_route>;

// A port a route or domain may send to (docs/api.md §11): an integer 1025-65535 that this daemon does not
// listen on. `field` names it in the 400 otherwise ("port", "targetPort").
std::uint16_t service_port(const nlohmann::json& value, const std::vector<std::uint16_t>& own_ports,
                           const char* field);

// The rules of docs/api.md §11. `mappings` is the request's array (null: no routes); `path_key` is
// "pathPrefix" for the API and "path" for the manifest. Throws api_error 400 naming the rule.
route_list parse_routes(const nlohmann::json& mappings, const std::vector<std::uint16_t>& own_ports,
                        const char* path_key = "pathPrefix");
nlohmann::json to_json(const route_list& routes);

// The route whose prefix is the longest that matches `path` at a segment boundary ("/app" matches "/app" and
// "/app/x", not "/apple"; "/" matches every path). Null when none does.
const path_route* longest_match(const route_list& routes, std::string_view path);

// Whether a service may read `path` as one under a protected route (docs/api.md §4): the path as sent, and
// as routers commonly read it — letters in any case (Express), `;params` cut from segments (Spring, Tomcat),
// runs of `/` merged — in every combination. True when the longest match of any reading is protected.
bool protected_in_any_reading(const route_list& routes, std::string_view path);

// A path-routed app shares the API's origin (docs/api.md §11): a public one is logged as a warning whenever
// the routes are read or changed.
void warn_about_shared_origin(const route_list& routes);

class path_routes {
public:
    explicit path_routes(std::string file);
    path_routes(const path_routes&) = delete;
    path_routes& operator=(const path_routes&) = delete;

    // At start: the stored list; when there is none yet, `manifest_routes` (the manifest's "routes" as JSON
    // text, "" when absent) is validated, stored and used. Temp files a write killed half-way left are
    // removed. A stored file that cannot be used is logged and leaves no routes (it is not overwritten: an
    // operator may repair it).
    void load(const std::string& manifest_routes);
    // SIGHUP: the stored list again.
    void reload();
    std::shared_ptr<const route_list> current() const;
    // Stores and then serves `routes`. Throws std::system_error when it cannot be stored (nothing changes).
    void replace(route_list routes);
    // The ports this daemon listens on (no route may take one); set once they are bound, before serving.
    void set_own_ports(std::vector<std::uint16_t> ports) { own_ports_ = std::move(ports); }
    const std::vector<std::uint16_t>& own_ports() const { return own_ports_; }

private:
    bool read_stored();
    std::string file_;
    std::vector<std::uint16_t> own_ports_;
    mutable std::mutex mutex_;
    std::mutex write_mutex_; // PUTs are stored one at a time, in the order they are served
    std::shared_ptr<const route_list> current_;
};

} // namespace ag::proxy
