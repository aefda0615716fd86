#pragma once
// docs/openapi.json as built into the binary: CMake writes its bytes into a generated source
// (cmake/embed_file.cmake), so the document served is the one in the tree the binary was built from.
#include <string_view>

namespace ag {

// The document's bytes, exactly as in docs/openapi.json. Static storage: valid for the program's life.
std::string_view openapi_document() noexcept;
// Their SHA-256 in lower-case hex (64 characters).
std::string_view openapi_document_sha256() noexcept;

} // namespace ag
