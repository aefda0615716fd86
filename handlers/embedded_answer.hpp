#pragma once
// The answer for a file built into the binary (util/embedded.hpp): a strong ETag and 304, `Cache-Control:
// no-cache`, and the gzip bytes as they are for a client whose Accept-Encoding takes gzip (inflated for one
// that does not).
#include "gateway/request.hpp"
#include "util/embedded.hpp"

#include <string_view>

namespace ag {

response embedded_answer(const embedded::file& f, const request& req, std::string_view content_type);

// Whether an Accept-Encoding value allows gzip: a `gzip`, `x-gzip` or `*` entry whose q is not 0.
bool accepts_gzip(std::string_view accept_encoding);

} // namespace ag
