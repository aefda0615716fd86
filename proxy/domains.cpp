#include "proxy/domains.hpp"

#include "gateway/errors.hpp"
#include "proxy/path_routes.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

#include <arpa/nameser.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <resolv.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace ag::proxy {
namespace {

constexpr std::size_t max_domains = 5;

[[noreturn]] void refuse(error_kind kind, const std::string& message) {
    throw api_error(kind, message);
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(digits[p[i] >> 4]);
        out.push_back(digits[p[i] & 15]);
    }
    return out;
}

bool label_ok(std::string_view l) {
    return !l.empty() && l.size() <= 63 && l.front() != '-' && l.back() != '-' &&
           std::all_of(l.begin(), l.end(), [](unsigned char c) { return std::isalnum(c) || c == '-'; });
}

// A host name as DNS allows it: labels of letters, digits and '-', at least two of them.
bool host_name_ok(std::string_view name) {
    if (name.empty() || name.size() > 253 || name.find('.') == std::string_view::npos)
        return false;
    while (!name.empty()) {
        auto dot = name.find('.');
        if (!label_ok(name.substr(0, dot)))
            return false;
        name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    }
    return true;
}

std::optional<std::string> string_field(const nlohmann::json& body, const char* key) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null())
        return std::nullopt;
    if (!it->is_string())
        refuse(error_kind::bad_request, fmt::format("{} must be a string or null", key));
    std::string v = lower(it->get<std::string>());
    while (!v.empty() && v.back() == '.')
        v.pop_back();
    return v;
}

std::uint16_t port_field(const nlohmann::json& body, const std::vector<std::uint16_t>& own_ports) {
    auto it = body.find("targetPort");
    return service_port(it == body.end() ? nlohmann::json() : *it, own_ports, "targetPort");
}

std::optional<bool> protect_field(const nlohmann::json& body) {
    auto it = body.find("protected");
    if (it == body.end() || it->is_null())
        return std::nullopt;
    if (!it->is_boolean())
        refuse(error_kind::bad_request, "protected must be a boolean");
    return it->get<bool>();
}

std::string name_of(const domain& d) {
    return d.subdomain ? *d.subdomain : d.custom_domain.value_or("");
}

domain from_json(const nlohmann::json& j) {
    domain d;
    d.id = j.at("id").get<std::string>();
    if (j.at("subdomain").is_string())
        d.subdomain = j["subdomain"].get<std::string>();
    if (j.at("customDomain").is_string())
        d.custom_domain = j["customDomain"].get<std::string>();
    d.target_port = j.at("targetPort").get<std::uint16_t>();
    d.protect = j.at("protected").get<bool>();
    d.status = j.at("status").get<std::string>();
    d.created_at = j.at("createdAt").get<std::string>();
    d.updated_at = j.at("updatedAt").get<std::string>();
    return d;
}

std::string random_id() {
    std::array<unsigned char, 16> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
        throw std::runtime_error("no random bytes");
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40); // a version 4 UUID, as the product's ids are
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
    std::string h = hex(b.data(), b.size());
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
           h.substr(20);
}

} // namespace

nlohmann::json to_json(const domain& d) {
    return {{"id", d.id},
            {"subdomain", d.subdomain ? nlohmann::json(*d.subdomain) : nullptr},
            {"customDomain", d.custom_domain ? nlohmann::json(*d.custom_domain) : nullptr},
            {"targetPort", d.target_port},
            {"protected", d.protect},
            {"status", d.status},
            {"createdAt", d.created_at},
            {"updatedAt", d.updated_at}};
}

std::vector<std::string> system_txt_lookup(const std::string& name) {
    // res_nquery with a state of our own: thread-safe, and it reads /etc/resolv.conf afresh.
    struct __res_state state {};
    if (res_ninit(&state) != 0)
        throw std::runtime_error("the resolver could not be initialised");
    std::array<unsigned char, 8192> answer{};
    int len =
        res_nquery(&state, name.c_str(), ns_c_in, ns_t_txt, answer.data(), static_cast<int>(answer.size()));
    const int herr = state.res_h_errno;
    res_nclose(&state);
    std::vector<std::string> out;
    if (len < 0) {
        if (herr == HOST_NOT_FOUND || herr == NO_DATA)
            return out;
        throw std::runtime_error(fmt::format("TXT lookup of {} failed: {}", name, hstrerror(herr)));
    }
    ns_msg msg;
    if (ns_initparse(answer.data(), len, &msg) != 0)
        throw std::runtime_error("TXT lookup: malformed answer");
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_txt)
            continue;
        const unsigned char* p = ns_rr_rdata(rr);
        const unsigned char* end = p + ns_rr_rdlen(rr);
        std::string text;
        while (p < end) {
            std::size_t n = *p++;
            n = std::min<std::size_t>(n, static_cast<std::size_t>(end - p));
            text.append(reinterpret_cast<const char*>(p), n);
            p += n;
        }
        out.push_back(std::move(text));
    }
    return out;
}

domains::domains(const std::string& state_dir, std::optional<std::string> base_domain)
    : file_(state_dir + "/domains.json")
    , key_file_(state_dir + "/domain-challenge.key")
    , base_domain_(std::move(base_domain))
    , current_(std::make_shared<domain_list>()) {
    if (base_domain_)
        base_domain_ = lower(*base_domain_);
}

void domains::load() {
    fs_util::remove_leftover_temps(file_);
    fs_util::remove_leftover_temps(key_file_);
    reload();
}

void domains::reload() {
    auto text = fs_util::read_file(file_);
    domain_list list;
    if (text) {
        try {
            // Named: a range-for over a member of the temporary parse() returns reads freed memory (the
            // temporary ends before the loop; ASan found it once a restart had domains to read).
            const auto stored = nlohmann::json::parse(*text);
            for (const auto& j : stored.at("domains")) {
                list.push_back(from_json(j));
                if (own_port(list.back().target_port))
                    log::warn("domains: {} -> port {} is not served: the gateway itself listens there",
                              list.back().custom_domain.value_or(list.back().subdomain.value_or("?")),
                              list.back().target_port);
            }
        } catch (const std::exception& e) {
            log::warn("domains: {} cannot be used ({}); serving no domains until it is fixed", file_,
                      e.what());
            list.clear();
        }
    }
    std::lock_guard lock(mutex_);
    current_ = std::make_shared<domain_list>(std::move(list));
}

std::shared_ptr<const domain_list> domains::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

std::optional<domain> domains::by_host(std::string_view host) const {
    auto list = current();
    if (list->empty())
        return std::nullopt;
    std::string h = lower(host);
    while (!h.empty() && h.back() == '.')
        h.pop_back();
    for (const auto& d : *list) {
        if (d.status != "active" || own_port(d.target_port))
            continue;
        if (d.custom_domain && *d.custom_domain == h)
            return d;
        if (d.subdomain) {
            const std::string parent = base_domain_.value_or("localhost");
            if (h.size() == d.subdomain->size() + 1 + parent.size() && h.starts_with(*d.subdomain) &&
                h[d.subdomain->size()] == '.' && h.ends_with(parent))
                return d;
        }
    }
    return std::nullopt;
}

void domains::store(domain_list list) {
    auto a = nlohmann::json::array();
    for (const auto& d : list)
        a.push_back(to_json(d));
    fs_util::write_file_atomic(file_, nlohmann::json({{"domains", a}}).dump(2) + "\n", 0600);
    auto next = std::make_shared<domain_list>(std::move(list));
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
}

domain domains::add(const nlohmann::json& body) {
    auto sub = string_field(body, "subdomain");
    auto custom = string_field(body, "customDomain");
    if (sub.has_value() == custom.has_value())
        refuse(error_kind::bad_request, "Give either subdomain or customDomain, not both or neither");
    const std::string name = sub ? *sub : *custom;
    if (name.find("pinata") != std::string::npos)
        refuse(error_kind::bad_request, "A domain name must not contain 'pinata'");
    if (sub && !label_ok(*sub))
        refuse(error_kind::bad_request, "subdomain must be one DNS label: letters, digits and '-' (1-63)");
    if (custom && !host_name_ok(*custom))
        refuse(error_kind::bad_request, "customDomain must be a host name such as app.example.com");
    domain d;
    d.subdomain = sub;
    d.custom_domain = custom;
    d.target_port = port_field(body, own_ports_);
    d.protect = protect_field(body).value_or(true);
    d.status = sub ? "active" : "pending";
    d.created_at = d.updated_at = time_format::iso8601_ms_now();

    std::lock_guard writing(write_mutex_);
    domain_list list = *current();
    if (std::any_of(list.begin(), list.end(), [&](const domain& o) { return name_of(o) == name; }))
        refuse(error_kind::conflict, fmt::format("{} is already registered", name));
    if (list.size() >= max_domains)
        refuse(error_kind::bad_request, fmt::format("At most {} domains", max_domains));
    d.id = random_id();
    list.push_back(d);
    store(std::move(list));
    return d;
}

domain domains::update(const std::string& id, const nlohmann::json& body) {
    std::lock_guard writing(write_mutex_);
    domain_list list = *current();
    auto it = std::find_if(list.begin(), list.end(), [&](const domain& d) { return d.id == id; });
    if (it == list.end())
        refuse(error_kind::not_found, "Domain not found");
    // The name cannot change (the product's CLI sends it back unchanged; a different one is refused).
    for (const char* key : {"subdomain", "customDomain"}) {
        auto given = string_field(body, key);
        const auto& mine = std::string_view(key) == "subdomain" ? it->subdomain : it->custom_domain;
        if (given && given != mine)
            refuse(error_kind::bad_request, "A domain's name cannot change: delete it and add the new one");
    }
    if (body.contains("targetPort"))
        it->target_port = port_field(body, own_ports_);
    if (auto p = protect_field(body))
        it->protect = *p;
    it->updated_at = time_format::iso8601_ms_now();
    domain out = *it;
    store(std::move(list));
    return out;
}

void domains::remove(const std::string& id) {
    std::lock_guard writing(write_mutex_);
    domain_list list = *current();
    auto it = std::find_if(list.begin(), list.end(), [&](const domain& d) { return d.id == id; });
    if (it == list.end())
        refuse(error_kind::not_found, "Domain not found");
    list.erase(it);
    store(std::move(list));
}

std::string domains::challenge_value(const std::string& name) {
    // The key is made once, at the first challenge, and kept: the same domain gets the same value for good.
    auto key = fs_util::read_file(key_file_);
    if (!key || key->size() != 32) {
        std::lock_guard writing(write_mutex_);
        key = fs_util::read_file(key_file_);
        if (!key || key->size() != 32) {
            std::string fresh(32, '\0');
            if (RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()), 32) != 1)
                throw std::runtime_error("no random bytes");
            fs_util::write_file_atomic(key_file_, fresh, 0600);
            key = fresh;
        }
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
         reinterpret_cast<const unsigned char*>(name.data()), name.size(), mac.data(), &mac_len);
    return "agw-" + hex(mac.data(), mac_len);
}

nlohmann::json domains::challenge(const nlohmann::json& body) {
    auto name = string_field(body, "domain");
    if (!name || !host_name_ok(*name))
        refuse(error_kind::bad_request, "domain must be a host name such as app.example.com");
    return {{"name", "_pinata-verify." + *name}, {"value", challenge_value(*name)}};
}

domain domains::verify(const std::string& id, const txt_lookup& lookup) {
    std::optional<domain> found;
    for (const auto& d : *current())
        if (d.id == id)
            found = d;
    if (!found)
        refuse(error_kind::not_found, "Domain not found");
    if (!found->custom_domain)
        refuse(error_kind::bad_request, "Only custom domains are verified (a subdomain is active at once)");
    const std::string record = "_pinata-verify." + *found->custom_domain;
    const std::string want = challenge_value(*found->custom_domain);
    std::vector<std::string> txt;
    try {
        txt = lookup(record);
    } catch (const std::exception& e) {
        throw api_error(error_kind::bad_request, e.what());
    }
    if (std::find(txt.begin(), txt.end(), want) == txt.end()) {
        std::string seen;
        for (const auto& t : txt)
            seen += (seen.empty() ? "\"" : ", \"") + t + "\"";
        refuse(error_kind::bad_request, fmt::format("TXT record {} does not hold the challenge (found: {})",
                                                    record, seen.empty() ? "no TXT record" : seen));
    }
    std::lock_guard writing(write_mutex_);
    domain_list list = *current();
    auto it = std::find_if(list.begin(), list.end(), [&](const domain& d) { return d.id == id; });
    if (it == list.end())
        refuse(error_kind::not_found, "Domain not found");
    it->status = "active";
    it->updated_at = time_format::iso8601_ms_now();
    domain out = *it;
    store(std::move(list));
    return out;
}

} // namespace ag::proxy
