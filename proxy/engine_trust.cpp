#include "proxy/engine_trust.hpp"

#include "util/atomic_file.hpp"
#include "util/json5.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <array>

namespace ag::proxy {

std::string trust_loopback_in_engine_config(const std::string& path) {
    static constexpr std::array<const char*, 2> loopback{"127.0.0.1", "::1"};
    fs_util::remove_leftover_temps(path); // of a rewrite an earlier start was killed in
    auto text = fs_util::read_file(path);
    if (!text)
        return "no such file";
    // OpenClaw's openclaw.json is JSON5; it is written back as plain JSON (docs/api.md §15), the file as the
    // operator wrote it kept beside it as PATH.bak. YAML is left alone: there is no YAML writer here yet.
    if (path.ends_with(".yaml") || path.ends_with(".yml")) {
        log::warn(
            "engine config {}: YAML, so not rewritten; make sure gateway.trustedProxies lists 127.0.0.1 and "
            "::1, or the engine refuses chat through the gateway",
            path);
        return "left alone: YAML";
    }
    nlohmann::json config;
    try {
        config = json5::parse(*text);
    } catch (const json5::parse_error& e) {
        log::warn("engine config {}: not JSON5 ({}), so not rewritten", path, e.what());
        return "left alone: not JSON5";
    }
    const bool strict = !nlohmann::json::parse(*text, nullptr, false).is_discarded();
    if (!config.is_object() || !config.contains("gateway") || !config["gateway"].is_object())
        return "not an OpenClaw config";
    auto& gateway = config["gateway"];
    if (!gateway.contains("trustedProxies") || !gateway["trustedProxies"].is_array())
        gateway["trustedProxies"] = nlohmann::json::array();
    auto& trusted = gateway["trustedProxies"];
    std::string added;
    for (const char* a : loopback)
        if (std::find(trusted.begin(), trusted.end(), a) == trusted.end()) {
            trusted.push_back(a);
            added += (added.empty() ? "" : ", ") + std::string(a);
        }
    if (added.empty())
        return "already trusted";
    struct stat st {};
    mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
    if (!strict) // comments and the rest of JSON5's forms are lost in the rewrite: the original stays here
        fs_util::write_file_atomic(path + ".bak", *text, mode);
    fs_util::write_file_atomic(path, config.dump(2) + "\n", mode);
    log::info("engine config {}: added {} to gateway.trustedProxies (the gateway forwards chat from there)",
              path, added);
    return "added";
}

} // namespace ag::proxy
