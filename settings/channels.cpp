#include "settings/channels.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace ag::settings {
namespace {

constexpr std::array<std::string_view, 4> names{"telegram", "slack", "discord", "whatsapp"};
constexpr std::array<std::string_view, 4> dm_policies{"pairing", "allowlist", "open", "disabled"};

// Discord's bot token is `token` in OpenClaw's config; the others call it `botToken`.
std::string token_key(std::string_view channel) {
    return channel == "discord" ? "token" : "botToken";
}

std::string string_at(const nlohmann::json& section, const std::string& key) {
    auto it = section.find(key);
    return it != section.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// The last four characters of a token long enough that they do not give it away.
nlohmann::json hint(const std::string& token) {
    if (token.size() < 12)
        return nullptr;
    return "…" + token.substr(token.size() - 4);
}

// A token field of the request: absent or blank means "keep"; otherwise a string.
std::string token_field(const nlohmann::json& request, const char* key) {
    auto it = request.find(key);
    if (it == request.end() || it->is_null())
        return {};
    if (!it->is_string())
        throw invalid_channel(std::string(key) + " must be a string");
    return it->get<std::string>();
}

void require_known(std::string_view name) {
    if (!is_channel(name))
        throw unsupported_channel();
}

} // namespace

bool is_channel(std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

nlohmann::json channel_status(const nlohmann::json& config) {
    nlohmann::json out = nlohmann::json::object();
    const nlohmann::json* channels = nullptr;
    if (auto it = config.find("channels"); it != config.end() && it->is_object())
        channels = &*it;
    for (auto name : names) {
        std::string key(name);
        const nlohmann::json empty = nlohmann::json::object();
        const nlohmann::json* section = &empty;
        if (channels)
            if (auto it = channels->find(key); it != channels->end() && it->is_object())
                section = &*it;
        const bool configured = section != &empty;
        std::string token = string_at(*section, token_key(name));
        auto enabled = section->find("enabled");
        auto allow = section->find("allowFrom");
        auto policy = section->find("dmPolicy");
        out[key] = {
            {"configured", configured},
            {"enabled",
             enabled != section->end() && enabled->is_boolean() ? enabled->get<bool>() : configured},
            {"botTokenSet", !token.empty()},
            {"botTokenHint", hint(token)},
            {"dmPolicy", policy != section->end() && policy->is_string() ? *policy : nlohmann::json(nullptr)},
            {"allowFrom", allow != section->end() && allow->is_array() ? *allow : nlohmann::json::array()},
            {"appTokenSet", !string_at(*section, "appToken").empty()},
        };
    }
    return out;
}

std::vector<std::string> configure_channel(nlohmann::json& config, std::string_view name,
                                           const nlohmann::json& request) {
    require_known(name);
    if (!request.is_object())
        throw invalid_channel("the body must be a JSON object");
    std::string bot = token_field(request, "botToken");
    std::string app = token_field(request, "appToken");
    nlohmann::json update = nlohmann::json::object();
    if (auto it = request.find("dmPolicy"); it != request.end() && !it->is_null()) {
        if (!it->is_string() ||
            std::find(dm_policies.begin(), dm_policies.end(), it->get<std::string>()) == dm_policies.end())
            throw invalid_channel("dmPolicy must be one of pairing, allowlist, open, disabled");
        update["dmPolicy"] = *it;
    }
    if (auto it = request.find("allowFrom"); it != request.end() && !it->is_null()) {
        bool ok = it->is_array() && std::all_of(it->begin(), it->end(), [](const nlohmann::json& v) {
                      return v.is_string() || v.is_number_integer();
                  });
        if (!ok)
            throw invalid_channel("allowFrom must be an array of user ids");
        update["allowFrom"] = *it;
    }
    if (auto it = request.find("enabled"); it != request.end() && !it->is_null()) {
        if (!it->is_boolean())
            throw invalid_channel("enabled must be true or false");
        update["enabled"] = *it;
    }

    // Built apart and put in only at the end: a refusal leaves the config as it was.
    std::string key(name);
    nlohmann::json section = nlohmann::json::object();
    if (auto channels = config.find("channels"); channels != config.end() && channels->is_object())
        if (auto it = channels->find(key); it != channels->end() && it->is_object())
            section = *it;
    std::vector<std::string> written;
    if (!bot.empty()) {
        section[token_key(name)] = bot;
        written.push_back(bot);
    } else if (string_at(section, token_key(name)).empty()) {
        throw invalid_channel("botToken is required to set up " + key);
    }
    if (!app.empty()) {
        section["appToken"] = app;
        written.push_back(app);
    } else if (name == "slack" && string_at(section, "appToken").empty()) {
        throw invalid_channel("Slack needs appToken (the xapp- token for Socket Mode)");
    }
    for (auto& [k, v] : update.items())
        section[k] = v;
    if (!config.contains("channels") || !config["channels"].is_object())
        config["channels"] = nlohmann::json::object();
    config["channels"][key] = std::move(section);
    return written;
}

bool remove_channel(nlohmann::json& config, std::string_view name) {
    require_known(name);
    auto channels = config.find("channels");
    if (channels == config.end() || !channels->is_object())
        return false;
    return channels->erase(std::string(name)) > 0;
}

channel_change plan_channel(const nlohmann::json& config, std::string_view name,
                            const nlohmann::json& request) {
    nlohmann::json after = config;
    channel_change change;
    change.secrets = configure_channel(after, name, request);
    std::string key(name);
    const nlohmann::json& section = after["channels"][key];
    const nlohmann::json* before = nullptr;
    if (auto channels = config.find("channels"); channels != config.end() && channels->is_object())
        if (auto it = channels->find(key); it != channels->end() && it->is_object())
            before = &*it;
    if (!before) {
        change.edits.push_back({{"channels", key}, section});
        return change;
    }
    for (const auto& [k, v] : section.items()) {
        auto old = before->find(k);
        // As JSON writes them: a NaN the request did not touch is no change.
        if (old == before->end() || old->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) !=
                                        v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
            change.edits.push_back({{"channels", key, k}, v});
    }
    return change;
}

std::vector<member_edit> plan_channel_removal(const nlohmann::json& config, std::string_view name) {
    nlohmann::json after = config;
    if (!remove_channel(after, name))
        return {};
    return {{{"channels", std::string(name)}, std::nullopt}};
}

std::string mask_secrets(std::string text, const std::vector<std::string>& secrets) {
    for (const auto& s : secrets) {
        if (s.empty())
            continue;
        auto masked = hint(s);
        std::string replacement = masked.is_string() ? masked.get<std::string>() : "…";
        for (auto at = text.find(s); at != std::string::npos; at = text.find(s, at + replacement.size()))
            text.replace(at, s.size(), replacement);
    }
    return text;
}

} // namespace ag::settings
