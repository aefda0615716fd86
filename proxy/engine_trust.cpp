#include "proxy/engine_trust.hpp"

#include "util/atomic_file.hpp"
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
    // Only strict JSON is rewritten: a JSON5 or YAML file would lose its comments and layout.
    auto config = nlohmann::json::parse(*text, nullptr, false);
    if (config.is_discarded()) {
        auto lenient = nlohmann::json::parse(*text, nullptr, false, /*ignore_comments=*/true);
        const bool openclaw = !lenient.is_discarded() && lenient.is_object() && lenient.contains("gateway");
        if (openclaw || path.ends_with(".json5") || path.ends_with(".yaml") || path.ends_with(".yml")) {
            log::warn(
                "engine config {}: not strict JSON, so not rewritten; make sure gateway.trustedProxies lists "
                "127.0.0.1 and ::1, or the engine refuses chat through the gateway",
                path);
            return "left alone: not strict JSON";
        }
        return "not an OpenClaw config";
    }
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
    fs_util::write_file_atomic(path, config.dump(2) + "\n", mode);
    log::info("engine config {}: added {} to gateway.trustedProxies (the gateway forwards chat from there)",
              path, added);
    return "added";
}

} // namespace ag::proxy
