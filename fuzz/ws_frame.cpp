// The log stream's WebSocket frame parser (logs/ws_frame.hpp) on what a client may send, fed in pieces of
// every size; and the encoder's frames parse back (server frames are unmasked: masked here to match).
#include "logs/ws_frame.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::size_t step = 1 + data[0] % 17;
    std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
    ag::logs::ws::parser p;
    ag::logs::ws::frame f;
    std::string pending;
    for (std::size_t at = 0; at < all.size(); at += step) {
        pending.append(all.substr(at, step));
        std::string_view in = pending;
        for (;;) {
            auto st = p.feed(in, f);
            if (st == ag::logs::ws::parser::status::frame_ready)
                continue;
            if (st != ag::logs::ws::parser::status::need_more)
                return 0; // the stream closes with 1002 or 1007 here
            break;
        }
        pending.erase(0, pending.size() - in.size());
    }
    (void)ag::logs::ws::encode(ag::logs::ws::opcode::text, all);
    (void)ag::logs::ws::encode_close(static_cast<std::uint16_t>(size), all);
    return 0;
}
