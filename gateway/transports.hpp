#pragma once
// The adapters from sockets to gateway/byte_stream.hpp. Internal to gateway/.
#include "gateway/byte_stream.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace boost::asio::ssl {
class context;
}

namespace ag {

std::unique_ptr<transport> plain_transport(boost::asio::ip::tcp::socket socket);
std::unique_ptr<transport> plain_transport(boost::asio::local::stream_protocol::socket socket);
std::unique_ptr<transport> tls_transport(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls);
std::unique_ptr<transport> tls_transport(boost::asio::local::stream_protocol::socket socket,
                                         boost::asio::ssl::context& tls);

} // namespace ag
