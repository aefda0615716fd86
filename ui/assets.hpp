#pragma once
// The console page's files (docs/api.md §20), built into the binary: ui/'s own and the npm libraries
// ui/package-lock.json names (CMakeLists.txt, cmake/embed_files.cmake), so the daemon serves the page with no
// network and no file beside it.
#include "util/embedded.hpp"

#include <span>

namespace ag::ui {

// Every file, in a fixed order. Static storage: valid for the program's life.
std::span<const embedded::file> assets() noexcept;

} // namespace ag::ui
