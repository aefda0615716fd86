#pragma once
// The console page's files (docs/api.md §20), built into the binary: CMake compresses ui/ and the locked npm
// libraries (cmake/embed_assets.cmake), so the daemon serves the page with no network and no file beside it.
#include <cstddef>
#include <span>
#include <string_view>

namespace ag::ui {

struct asset {
    std::string_view name; // as under …/ui/, e.g. "app.js"
    std::string_view gzip; // the bytes, gzip-compressed at build time
    std::size_t size;      // uncompressed
    std::string_view etag; // a strong validator: quoted, from the uncompressed bytes' SHA-256
};

// Every asset, in a fixed order. Static storage: valid for the program's life.
std::span<const asset> assets() noexcept;

} // namespace ag::ui
