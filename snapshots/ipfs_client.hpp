#pragma once
// The few Kubo RPC calls snapshots need (`POST /api/v0/dag/import`), over plain HTTP/1.1 on a socket of its
// own. Blocking with timeouts: called from the pinning thread and the blocking pool, never an I/O thread.
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ag::snapshots {

struct ipfs_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class ipfs_client {
public:
    // `url`: http://HOST:PORT[/prefix] of the RPC API (Kubo: http://127.0.0.1:5001).
    explicit ipfs_client(const std::string& url);

    // Streams a CAR (written by `produce` through the callback it gets) to dag/import with pin-roots=true;
    // returns the root the node reports. Throws ipfs_error when the node cannot be reached, refuses, or
    // reports a pin error.
    std::string import_car(const std::function<void(const std::function<bool(std::string_view)>&)>& produce);

    const std::string& url() const { return url_; }

private:
    std::string url_, host_, port_, prefix_;
    std::chrono::seconds timeout_{30};
};

} // namespace ag::snapshots
