// git's pkt-line framing (git/pkt_line.hpp) on any request body: whole bodies and lengths at any offset.
#include "git/pkt_line.hpp"
#include "git/libgit2.hpp"

#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        ag::git::pkt_reader r(in);
        for (int i = 0; i < 100000; ++i) {
            auto p = r.next();
            if (r.offset() > in.size())
                __builtin_trap();
            if (p.kind == ag::git::pkt_reader::pkt::end)
                break;
        }
    } catch (const std::exception&) {
    }
    try {
        (void)ag::git::pkt_length(in);
    } catch (const std::exception&) {
    }
    return 0;
}
