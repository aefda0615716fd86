#include "gateway/transports.hpp"
#include "runtime/net.hpp"

#include <boost/asio/post.hpp>

#include <type_traits>

namespace ag {
namespace {

// A plain socket: reads and writes go straight to it, and responses from files use sendfile(2).
template <class Socket> class socket_transport final : public transport {
public:
    explicit socket_transport(Socket s)
        : socket_(std::move(s)) {}

    asio::any_io_executor executor() override { return socket_.get_executor(); }
    void read_some(asio::mutable_buffer into, io_handler done) override {
        socket_.async_read_some(into, std::move(done));
    }
    void write_some(buffer_list from, io_handler done) override {
        socket_.async_write_some(from, std::move(done));
    }
    void shutdown(wait_handler done) override {
        boost::system::error_code ec;
        socket_.shutdown(asio::socket_base::shutdown_send, ec);
        asio::post(socket_.get_executor(), [h = std::move(done), ec]() mutable { std::move(h)(ec); });
    }
    void cancel() override {
        boost::system::error_code ec;
        socket_.cancel(ec);
    }
    void reset() override {
        boost::system::error_code ec;
        socket_.set_option(asio::socket_base::linger(true, 0), ec);
        socket_.close(ec);
    }
    int sendfile_fd() override {
        boost::system::error_code ec;
        socket_.native_non_blocking(true, ec);
        return socket_.native_handle();
    }
    void wait_writable(wait_handler done) override {
        socket_.async_wait(asio::socket_base::wait_write, std::move(done));
    }
    void wait_readable(wait_handler done) override {
        socket_.async_wait(asio::socket_base::wait_read, std::move(done));
    }
    asio::ip::tcp::socket* tcp_socket() override {
        if constexpr (std::is_same_v<Socket, asio::ip::tcp::socket>)
            return &socket_;
        else
            return nullptr;
    }

private:
    Socket socket_;
};

} // namespace

std::unique_ptr<transport> plain_transport(asio::ip::tcp::socket socket) {
    return std::make_unique<socket_transport<asio::ip::tcp::socket>>(std::move(socket));
}
std::unique_ptr<transport> plain_transport(asio::local::stream_protocol::socket socket) {
    return std::make_unique<socket_transport<asio::local::stream_protocol::socket>>(std::move(socket));
}

} // namespace ag
