// TLS over TCP or a unix socket, apart from the plain adapters: OpenSSL's stream templates are the heaviest
// code to compile, and only this file instantiates them.
#include "gateway/transports.hpp"
#include "runtime/net.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <string>

namespace ag {
namespace {

template <class Socket> class tls_socket_transport final : public transport {
public:
    tls_socket_transport(Socket s, asio::ssl::context& ctx)
        : stream_(std::move(s), ctx) {}

    asio::any_io_executor executor() override { return stream_.get_executor(); }
    void read_some(asio::mutable_buffer into, io_handler done) override {
        // A peer that closes without close_notify has ended the stream, as far as HTTP is concerned.
        stream_.async_read_some(into,
                                [h = std::move(done)](boost::system::error_code ec, std::size_t n) mutable {
                                    if (ec == asio::ssl::error::stream_truncated)
                                        ec = asio::error::eof;
                                    std::move(h)(ec, n);
                                });
    }
    void write_some(buffer_list from, io_handler done) override {
        // OpenSSL writes one buffer per record: small pieces (a chunk's size line, its data, its CRLF) are
        // joined into one record instead of three.
        if (from.count() > 1 && from.size() <= coalesce_limit) {
            joined_.clear();
            for (const auto& b : from)
                joined_.append(static_cast<const char*>(b.data()), b.size());
            stream_.async_write_some(asio::buffer(joined_), std::move(done));
            return;
        }
        stream_.async_write_some(*from.begin(), std::move(done));
    }
    void handshake(wait_handler done) override {
        stream_.async_handshake(asio::ssl::stream_base::server, std::move(done));
    }
    void shutdown(wait_handler done) override { stream_.async_shutdown(std::move(done)); }
    void cancel() override {
        boost::system::error_code ec;
        stream_.lowest_layer().cancel(ec);
    }
    void reset() override {
        boost::system::error_code ec;
        stream_.lowest_layer().set_option(asio::socket_base::linger(true, 0), ec);
        stream_.lowest_layer().close(ec);
    }
    bool secure() const override { return true; }

private:
    static constexpr std::size_t coalesce_limit = 16 * 1024;
    asio::ssl::stream<Socket> stream_;
    std::string joined_; // the one outstanding write's joined pieces
};

} // namespace

std::unique_ptr<transport> tls_transport(asio::ip::tcp::socket socket, asio::ssl::context& tls) {
    return std::make_unique<tls_socket_transport<asio::ip::tcp::socket>>(std::move(socket), tls);
}
std::unique_ptr<transport> tls_transport(asio::local::stream_protocol::socket socket,
                                         asio::ssl::context& tls) {
    return std::make_unique<tls_socket_transport<asio::local::stream_protocol::socket>>(std::move(socket),
                                                                                        tls);
}

} // namespace ag
