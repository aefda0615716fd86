#pragma once
// docs/api.md §10: OpenClaw refuses forwarded upgrades from a peer it does not trust, and without the
// forwarded address it takes every remote client for a local one (and pairs its device silently). So when
// --engine-config is an OpenClaw config (a `gateway` section), the loopback addresses the daemon connects
// from are added to `gateway.trustedProxies` at start, with an atomic write.
#include <string>

namespace ag::proxy {

// The file is read and written as settings::config_file does (JSON5 read, plain JSON written; YAML both
// ways), what was there kept as PATH.bak. Returns what it did, for the log and tests: "added", "already
// trusted", "not an OpenClaw config", "no such file", or "left alone: not valid".
std::string trust_loopback_in_engine_config(const std::string& path);

} // namespace ag::proxy
