#include "proxy/engine_trust.hpp"

#include "settings/config_file.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace ag::proxy {

std::string trust_loopback_in_engine_config(const std::string& path) {
    static constexpr std::array<const char*, 2> loopback{"127.0.0.1", "::1"};
    fs_util::remove_leftover_temps(path); // of a rewrite an earlier start was killed in
    settings::config_file file(path);
    std::string added;
    bool exists = true;
    bool openclaw = true;
    try {
        // Written back in the file's format (JSON5 as plain JSON); what was there is kept as PATH.bak, since
        // comments do not survive the rewrite.
        file.update([&](nlohmann::json& config) {
            exists = !config.empty() || fs_util::read_file(path).has_value();
            if (!config.contains("gateway") || !config["gateway"].is_object()) {
                openclaw = false;
                return false;
            }
            auto& gateway = config["gateway"];
            if (!gateway.contains("trustedProxies") || !gateway["trustedProxies"].is_array())
                gateway["trustedProxies"] = nlohmann::json::array();
            auto& trusted = gateway["trustedProxies"];
            for (const char* a : loopback)
                if (std::find(trusted.begin(), trusted.end(), a) == trusted.end()) {
                    trusted.push_back(a);
                    added += (added.empty() ? "" : ", ") + std::string(a);
                }
            return !added.empty();
        });
    } catch (const settings::invalid_config& e) {
        log::warn(
            "engine config {}: not valid {} ({}), so not rewritten; make sure gateway.trustedProxies lists "
            "127.0.0.1 and ::1, or the engine refuses chat through the gateway",
            path, settings::name_of(file.file_format()), e.what());
        return "left alone: not valid";
    }
    if (!exists)
        return "no such file";
    if (!openclaw)
        return "not an OpenClaw config";
    if (added.empty())
        return "already trusted";
    log::info("engine config {}: added {} to gateway.trustedProxies (the gateway forwards chat from there)",
              path, added);
    return "added";
}

} // namespace ag::proxy
