#pragma once
// The short names for Asio and Beast, in one place. Declares the namespaces only: include the Asio or Beast
// header a file uses as well. Code in namespace ag sees them as asio::, beast::, http::, websocket:: and tcp;
// code outside (tests) says `using namespace ag::net;`.
namespace boost::asio::ip {
class tcp;
}
namespace boost::beast::http {}
namespace boost::beast::websocket {}

namespace ag {
namespace net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
} // namespace net
using namespace net;
} // namespace ag
