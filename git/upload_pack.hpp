#pragma once
// POST git-upload-pack, protocol v0/v1 in stateless-rpc mode (gitprotocol-pack "Packfile Negotiation",
// gitprotocol-http): wants, shallow/deepen, have rounds with multi_ack_detailed, then the pack on side-band.
#include "git/pack_sink.hpp"

#include <string_view>

namespace ag::git {

class workspace;
class clone_cache;

// Answers one request body (already gunzipped). Blocking: it runs on a thread of its own. Protocol errors are
// reported in the stream (an ERR pkt or side-band 3), as git's own upload-pack does.
void upload_pack(workspace& ws, clone_cache* cache, std::string_view request, output& out);

} // namespace ag::git
