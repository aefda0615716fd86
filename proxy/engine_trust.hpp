#pragma once
// docs/api.md §10: OpenClaw refuses forwarded upgrades from a peer it does not trust, and without the
// forwarded address it takes every remote client for a local one (and pairs its device silently). So when
// --engine-config is an OpenClaw config (a `gateway` section), the loopback addresses the daemon connects
// from are added to `gateway.trustedProxies` at start, with an atomic write.
#include <string>

namespace ag::proxy {

// Only that key's text changes (settings::apply_edits: every other byte of a JSON or JSON5 file stays; a YAML
// file is written anew, its values kept), atomically, through a symbolic link, what was there kept as .bak.
// Returns what it did, for the log and tests: "added", "already trusted", "not an OpenClaw config", "no such
// file", or "left alone: not valid".
std::string trust_loopback_in_engine_config(const std::string& path);

} // namespace ag::proxy
