#pragma once
// The agent's domains (docs/api.md §11): subdomains and custom domains whose requests, whatever their path,
// go to a local port. Kept in STATE/domains.json (written atomically). Custom domains serve once verified
// by a TXT record at _pinata-verify.<domain> holding the domain's challenge: an HMAC of the name under a key
// kept in STATE, so the same domain always gets the same value. Thread-safe: every I/O thread matches Hosts
// while the API changes the table.
#include <nlohmann/json_fwd.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::proxy {

struct domain {
    std::string id;
    std::optional<std::string> subdomain;     // served as {subdomain}.{--base-domain}
    std::optional<std::string> custom_domain; // served once verified
    std::uint16_t target_port = 0;
    bool protect = true;
    std::string status; // "pending" until verified (custom domains), then "active"; subdomains are "active"
    std::string created_at, updated_at;
};
using domain_list = std::vector<domain>;
nlohmann::json to_json(const domain& d);

// TXT lookup, blocking: every TXT string found at `name` (each record's strings joined). Throws
// std::runtime_error with the resolver's reason when the lookup fails for another reason than "no record".
using txt_lookup = std::function<std::vector<std::string>(const std::string& name)>;
// The system resolver's (res_query, /etc/resolv.conf).
std::vector<std::string> system_txt_lookup(const std::string& name);

class domains {
public:
    // `base_domain`: --base-domain, if any; `own_ports` as for path routes.
    domains(const std::string& state_dir, std::optional<std::string> base_domain);
    domains(const domains&) = delete;
    domains& operator=(const domains&) = delete;

    // At start (also removing what a write killed half-way left), and on SIGHUP. A file that cannot be used
    // is logged and serves nothing.
    void load();
    void reload();
    void set_own_ports(std::vector<std::uint16_t> ports) { own_ports_ = std::move(ports); }

    // The domain a Host (without port) names, when it serves.
    std::optional<domain> by_host(std::string_view host) const;
    std::shared_ptr<const domain_list> current() const;

    // The API (blocking: they write STATE). Throw api_error: 400 for a rule, 404 for an unknown id, 409 for a
    // name already registered.
    domain add(const nlohmann::json& body);
    domain update(const std::string& id, const nlohmann::json& body);
    void remove(const std::string& id);
    // {"name":"_pinata-verify.<domain>","value":...}
    nlohmann::json challenge(const nlohmann::json& body);
    domain verify(const std::string& id, const txt_lookup& lookup);

private:
    std::string challenge_value(const std::string& name);
    void store(domain_list list); // under write_mutex_
    std::string file_;
    std::string key_file_;
    std::optional<std::string> base_domain_;
    std::vector<std::uint16_t> own_ports_;
    // A stored domain may name a port the daemon listens on since a --listen change: it is not served.
    bool own_port(std::uint16_t p) const {
        return std::find(own_ports_.begin(), own_ports_.end(), p) != own_ports_.end();
    }
    mutable std::mutex mutex_;
    std::mutex write_mutex_;
    std::shared_ptr<const domain_list> current_;
};

} // namespace ag::proxy
