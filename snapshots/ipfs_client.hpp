#pragma once
// The few Kubo RPC calls snapshots need (`POST /api/v0/dag/import`, `dag/export`), through the daemon's HTTP
// client (upstream/client.hpp). Blocking with timeouts: called from the pinning thread and the blocking
// pool, never an I/O thread.
#include "upstream/client.hpp"

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ag::snapshots {

struct ipfs_error : std::runtime_error {
    enum class kind_t { refused, unreachable, damaged };
    explicit ipfs_error(const std::string& what, bool unreachable_ = false)
        : std::runtime_error(what)
        , kind(unreachable_ ? kind_t::unreachable : kind_t::refused) {}
    ipfs_error(const std::string& what, kind_t k)
        : std::runtime_error(what)
        , kind(k) {}
    // unreachable: no connection or no answer; refused: an answer that says no; damaged: data that fails its
    // hash or is incomplete.
    kind_t kind;
};

class ipfs_client {
public:
    // `url`: http://HOST:PORT[/prefix] of the RPC API (Kubo: http://127.0.0.1:5001).
    explicit ipfs_client(const std::string& url);

    // Streams a CAR (written by `produce` through the callback it gets) to dag/import with pin-roots=true;
    // returns the root the node reports. Throws ipfs_error when the node cannot be reached, refuses, or
    // reports a pin error.
    using body_producer = upstream::body_producer;
    std::string import_car(const body_producer& produce);

    // dag/export of `root`: the CAR as the node sends it (the caller verifies every block).
    std::string export_car(const std::string& root);

    const std::string& url() const { return to_.url; }

private:
    // One POST; returns the body of a 200 answer, throws ipfs_error otherwise.
    std::string post(const std::string& target, const std::string& content_type, const body_producer* body);
    upstream::endpoint to_;
};

} // namespace ag::snapshots
