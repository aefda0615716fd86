#pragma once
// Files built into the binary (the console page, the OpenAPI document): CMake gzips each at build time into a
// generated source (cmake/embed_files.cmake), so the daemon serves them with no file beside it, sending the
// compressed bytes as they are to a client that takes gzip.
#include <cstddef>
#include <string>
#include <string_view>

namespace ag::embedded {

struct file {
    std::string_view name; // the file's name, e.g. "app.js"
    std::string_view gzip; // its bytes, gzip-compressed at build time
    std::size_t size;      // uncompressed
    std::string_view etag; // a strong validator: quoted, from the uncompressed bytes' SHA-256
};

// The file's own bytes.
std::string inflate(const file& f);

} // namespace ag::embedded
