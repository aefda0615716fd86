// The HTTP session's head reader and body framing (gateway/http_session.cpp) on an in-memory stream: any
// bytes a client may send, then its FIN. The session must answer or close, never crash, never hang.
#include "gateway/http_session.hpp"
#include "auth/failure_limiter.hpp"
#include "auth/token_store.hpp"
#include "gateway/config.hpp"
#include "gateway/dispatch.hpp"
#include "gateway/router.hpp"
#include "gateway/worker.hpp"
#include "support/memory_transport.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>

using namespace ag;
namespace asio = boost::asio;

namespace {

struct fixture {
    config cfg;
    auth::token_store tokens = auth::token_store::fixed("fuzz-token");
    auth::failure_limiter failures;
    gate front{cfg, tokens, failures};
    router routes;
    worker owner;
    session_env env{routes, front, owner};

    fixture() {
        routes.add(method::post, "/v0/echo", [](request& req) -> asio::awaitable<response> {
            response r;
            r.content_type = "text/plain";
            r.body = req.body;
            co_return r;
        });
        routes.add(method::get, "/v0/hello", [](request&) -> asio::awaitable<response> {
            co_return json_response({{"hello", "world"}});
        });
        route_options streamed;
        streamed.body_limit = 4096;
        streamed.stream_body = true;
        routes.add(
            method::put, "/v0/stream",
            [](request& req) -> asio::awaitable<response> {
                std::size_t total = 0;
                for (;;) {
                    auto piece = co_await req.body_stream->read_some();
                    if (!piece)
                        break;
                    total += piece->size();
                }
                co_return json_response({{"bytes", total}});
            },
            streamed);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fixture f;
    test::memory_client client{f.owner.ioc};
    start_session(f.env, byte_stream(client.server_end()), "127.0.0.1", true);
    client.send(std::string_view(reinterpret_cast<const char*>(data), size));
    client.close();
    // Ended: the session shut the connection down (or reset it) and is gone.
    const bool ended =
        client.run_until([&] { return client.ended() && f.owner.connection_count.load() == 0; });
    if (!ended)
        std::abort(); // a session that outlives its client's FIN on input it has whole is a hang
    return 0;
}
