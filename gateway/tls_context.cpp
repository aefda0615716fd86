#include "gateway/tls_context.hpp"

#include "config/daemon_config.hpp"

#include <boost/asio/ssl/context.hpp>

namespace ag {

std::unique_ptr<boost::asio::ssl::context> make_tls_context(const config& cfg) {
    namespace ssl = boost::asio::ssl;
    if (!cfg.tls_cert)
        return nullptr;
    auto tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    boost::system::error_code ec;
    tls->use_certificate_chain_file(*cfg.tls_cert, ec);
    if (ec)
        throw usage_error("--tls-cert: cannot load '" + *cfg.tls_cert + "': " + ec.message());
    tls->use_private_key_file(*cfg.tls_key, ssl::context::pem, ec);
    if (ec)
        throw usage_error("--tls-key: cannot load '" + *cfg.tls_key + "': " + ec.message());
    return tls;
}

} // namespace ag
