// The request head reader alone (gateway/request_head.cpp) on an in-memory stream: any bytes, then the
// client's FIN. It must parse a head, or close (after a 400 for a bad one), never crash, never hang; what it
// accepts must be a whole head whose size it reports within the limit.
#include "gateway/connection_handle.hpp"
#include "gateway/session_parts.hpp"
#include "support/memory_transport.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <cstdint>
#include <cstdlib>

using namespace ag;
using namespace ag::session_detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    boost::asio::io_context ioc;
    test::memory_client client{ioc};
    byte_stream stream(client.server_end());
    connection_handle conn;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request_parser<boost::beast::http::string_body> parser;
    head_deadline due{std::chrono::steady_clock::now() + header_timeout};
    bool done = false;
    std::optional<std::size_t> head;
    auto read = [&]() -> boost::asio::awaitable<void> {
        head = co_await read_request_head(stream, conn, buffer, parser, due);
        done = true;
    };
    boost::asio::co_spawn(ioc, read(), boost::asio::detached);
    client.send(std::string_view(reinterpret_cast<const char*>(data), size));
    client.close();
    if (!client.run_until([&] { return done; }))
        std::abort(); // a reader that outlives its client's FIN on input it has whole is a hang
    if (head && (!parser.is_header_done() || *head > header_limit || *head > size))
        std::abort();
    return 0;
}
