#pragma once
// docs/openapi.json as built into the binary (cmake/embed_files.cmake), so the document served is the one in
// the tree the binary was built from.
#include "util/embedded.hpp"

#include <span>

namespace ag {

// One file: the document. Static storage: valid for the program's life.
std::span<const embedded::file> openapi_files() noexcept;

inline const embedded::file& openapi_file() noexcept {
    return openapi_files().front();
}

} // namespace ag
