// bench/pty's client: opens a terminal session on agent-gateway, reads until its exit frame and prints the
// output bytes received, the bytes skipped by gaps, and the seconds from the upgrade to the exit frame.
// With UNTIL_BYTES (a resume: TARGET names session= and after=) it reads until that many output bytes came
// instead, and prints the milliseconds from the TCP connect to the first output byte and to the last.
//   pty_client PORT TARGET TOKEN [UNTIL_BYTES]
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

int main(int argc, char** argv) {
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: pty_client PORT TARGET TOKEN [UNTIL_BYTES]\n");
        return 2;
    }
    const unsigned long long until = argc == 5 ? std::stoull(argv[4]) : 0;
    const auto connect_start = std::chrono::steady_clock::now();
    double first_ms = -1;
    asio::io_context ioc;
    websocket::stream<asio::ip::tcp::socket> ws(ioc);
    ws.next_layer().connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(argv[1]))});
    std::string auth = std::string("Bearer ") + argv[3];
    ws.set_option(websocket::stream_base::decorator(
        [&auth](websocket::request_type& req) { req.set(beast::http::field::authorization, auth); }));
    auto start = std::chrono::steady_clock::now();
    ws.handshake("127.0.0.1", argv[2]);
    ws.read_message_max(0);
    unsigned long long bytes = 0, gaps = 0;
    beast::flat_buffer buf;
    for (;;) {
        buf.clear();
        boost::system::error_code ec;
        ws.read(buf, ec);
        if (ec) {
            std::fprintf(stderr, "ended without an exit frame: %s\n", ec.message().c_str());
            return 1;
        }
        if (ws.got_binary()) {
            if (first_ms < 0)
                first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                     connect_start)
                               .count();
            bytes += buf.size();
            if (until && bytes >= until) {
                double all_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                          connect_start)
                                    .count();
                std::printf("bytes=%llu first_ms=%.3f all_ms=%.3f\n", bytes, first_ms, all_ms);
                boost::system::error_code ec;
                ws.close(websocket::close_code::normal, ec);
                return 0;
            }
            continue;
        }
        std::string text(static_cast<const char*>(buf.data().data()), buf.size());
        if (text.find("\"gap\"") != std::string::npos) {
            auto from = std::stoull(text.substr(text.find("\"from\":") + 7));
            auto to = std::stoull(text.substr(text.find("\"to\":") + 5));
            gaps += to - from;
        }
        if (text.find("\"exit\"") != std::string::npos)
            break;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("bytes=%llu gap_bytes=%llu seconds=%.3f\n", bytes, gaps, secs);
    boost::system::error_code ec;
    ws.close(websocket::close_code::normal, ec);
    return 0;
}
