#pragma once
// docs/api.md §10: OpenClaw refuses forwarded upgrades from a peer it does not trust, and without the
// forwarded address it takes every remote client for a local one (and pairs its device silently). So when
// --engine-config is an OpenClaw config (a `gateway` section), the loopback addresses the daemon connects
// from are added to `gateway.trustedProxies` at start, with an atomic write.
#include <string>

namespace ag::proxy {

// The file is read as JSON5 (OpenClaw's openclaw.json is JSON5) and, when something is added, written back as
// plain JSON; a file that was not strict JSON is kept first as PATH.bak. Returns what it did, for the log and
// tests: "added", "already trusted", "not an OpenClaw config", or why the file was left alone (YAML, or not
// JSON5 at all).
std::string trust_loopback_in_engine_config(const std::string& path);

} // namespace ag::proxy
