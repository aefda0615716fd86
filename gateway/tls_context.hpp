#pragma once
// The server's TLS context from --tls-cert/--tls-key (docs/api.md §1): TLS 1.2 and later.
#include <memory>

namespace boost::asio::ssl {
class context;
}

namespace ag {

struct config;

// Null without --tls-cert. Throws usage_error for a certificate or key that does not load.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const config& cfg);

} // namespace ag
