#include "proxy/engine_trust.hpp"

#include "settings/config_file.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <system_error>

namespace ag::proxy {

std::string trust_loopback_in_engine_config(const std::string& path) {
    static constexpr std::array<const char*, 2> loopback{"127.0.0.1", "::1"};
    settings::config_file file(path);
    std::string added;
    bool exists = true;
    bool openclaw = true;
    try {
        // Of a rewrite an earlier start was killed in: beside the file writes land in (a link's target).
        fs_util::remove_leftover_temps(file.target());
        // Only gateway.trustedProxies changes: the operator's comments, key order and numbers such as
        // Infinity stay as written (docs/api.md §10); what was there is kept as PATH.bak all the same.
        file.edit([&](const settings::config_file::contents& current) {
            std::vector<settings::member_edit> edits;
            exists = current.exists;
            auto gateway = current.config.find("gateway");
            if (gateway == current.config.end() || !gateway->is_object()) {
                openclaw = false;
                return edits;
            }
            auto listed = gateway->find("trustedProxies");
            nlohmann::json trusted =
                listed != gateway->end() && listed->is_array() ? *listed : nlohmann::json::array();
            for (const char* a : loopback)
                if (std::find(trusted.begin(), trusted.end(), a) == trusted.end()) {
                    trusted.push_back(a);
                    added += (added.empty() ? "" : ", ") + std::string(a);
                }
            if (!added.empty())
                edits.push_back({{"gateway", "trustedProxies"}, trusted});
            return edits;
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
