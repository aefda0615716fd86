// CARv1 and dag-pb from an IPFS node (snapshots/restore.hpp): any bytes are read, verified against their
// CIDs or refused with std::runtime_error; CIDs in text form parse or not.
#include "snapshots/cid.hpp"
#include "snapshots/restore.hpp"

#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        auto blocks = ag::snapshots::read_car(in);
        for (const auto& [id, block] : blocks) {
            auto c = ag::snapshots::cid::from_binary(id);
            if (c)
                (void)ag::snapshots::links_of(*c, block);
        }
    } catch (const std::exception&) {
    }
    // The block alone, as dag-pb.
    try {
        auto id = ag::snapshots::cid_of(1, ag::snapshots::codec::dag_pb, in);
        (void)ag::snapshots::links_of(id, in);
    } catch (const std::exception&) {
    }
    (void)ag::snapshots::cid::parse(in);
    return 0;
}
