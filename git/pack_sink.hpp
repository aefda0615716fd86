#pragma once
// Where an upload-pack response goes: the raw output, and the framing of a pack on side-band 1 with progress
// on band 2 and keepalives while libgit2 is still searching for deltas.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

namespace ag::git {

// The response body as it leaves: write() returns false once the client has gone (stop producing).
class output {
public:
    virtual ~output() = default;
    virtual bool write(std::string_view data) = 0;
};

// Thread-safe: libgit2 reports progress from its delta-search threads.
class pack_sink {
public:
    // sideband: 0 (raw pack), or the pkt size the client asked for (side-band: 1000, side-band-64k: 65520).
    pack_sink(output& out, std::size_t sideband, bool progress);

    bool data(const void* bytes, std::size_t n); // pack bytes
    bool progress(std::string_view message);     // band 2, when progress was not turned off
    // An empty band-1 pkt if nothing was written for a second, so proxies and the client keep waiting.
    bool keepalive();
    bool fatal(std::string_view message); // band 3, or an ERR pkt without side-band
    bool finish();                        // whatever is buffered, then the flush that ends the stream
    bool ok() const { return ok_; }

private:
    bool emit(bool force);
    output& out_;
    std::size_t band_max_;
    bool progress_;
    bool ok_ = true;
    std::mutex mutex_;
    std::string framed_;
    std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

} // namespace ag::git
