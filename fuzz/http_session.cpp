// The HTTP session's head reader and body framing (gateway/http_session.cpp) on an in-memory stream: any
// bytes a client may send, then its FIN. The session must answer or close, never crash, never hang.
#include "gateway/http_session.hpp"
#include "support/memory_transport.hpp"
#include "support/session_rig.hpp"

#include <cstdint>
#include <cstdlib>

using namespace ag;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static session_rig f; // the unit tests' routes: whole, limited and streamed bodies, chunked answers
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
