#pragma once
// The engine's chat channels in its config (docs/api.md §15): `channels.<name>` for telegram, slack, discord
// and whatsapp. Pure functions over the config value; the caller reads and writes the file. A token is
// never given back whole: the status carries whether it is set and its last four characters.
#include "settings/config_file.hpp"

#include <nlohmann/json_fwd.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ag::settings {

struct unsupported_channel : std::invalid_argument {
    unsupported_channel()
        : std::invalid_argument("Unsupported channel") {}
};
// A request that cannot configure the channel; what() is the client's message.
struct invalid_channel : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

bool is_channel(std::string_view name);

// {"telegram":{configured,enabled,botTokenSet,botTokenHint,dmPolicy,allowFrom,appTokenSet},…}
nlohmann::json channel_status(const nlohmann::json& config);

// Applies `request` ({botToken?,appToken?,dmPolicy?,allowFrom?,enabled?}) to channels.<name>. A blank or
// missing token keeps the stored one; there must be a bot token after it (and an app token for Slack).
// Returns the tokens it wrote, so messages that quote them can be masked. Throws unsupported_channel,
// invalid_channel.
std::vector<std::string> configure_channel(nlohmann::json& config, std::string_view name,
                                           const nlohmann::json& request);

// Removes channels.<name>; false when it was not there. Throws unsupported_channel.
bool remove_channel(nlohmann::json& config, std::string_view name);

// What configure_channel would change, as edits of the file: each key of channels.<name> it sets (the whole
// section when there was none), so the text of everything else, the rest of the section included, stays.
struct channel_change {
    std::vector<member_edit> edits; // empty: nothing changes
    std::vector<std::string> secrets;
};
channel_change plan_channel(const nlohmann::json& config, std::string_view name,
                            const nlohmann::json& request);
// The edit removing channels.<name>; empty when it is not there. Throws unsupported_channel.
std::vector<member_edit> plan_channel_removal(const nlohmann::json& config, std::string_view name);

// `text` with every one of `secrets` replaced by its masked form.
std::string mask_secrets(std::string text, const std::vector<std::string>& secrets);

} // namespace ag::settings
