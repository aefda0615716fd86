#pragma once
// What the session hands a front door (gateway/front_door.hpp) for one proxied request.
#include "gateway/byte_stream.hpp"
#include "gateway/connection_handle.hpp"
#include "gateway/front_door.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ag {

struct pass_exchange {
    byte_stream& client;
    boost::beast::flat_buffer& buffer; // what the client sent past the header block
    // The request: its header parsed (and checked by the session's framing rules), its body not yet read.
    boost::beast::http::request_parser<boost::beast::http::buffer_body>& parser;
    connection_handle& conn;
    pass_target target;
    const std::string& client_address; // the client (docs/api.md §4: the peer, or a trusted proxy's word)
    const std::string& peer_address;   // who connected to us
    bool peer_trusted = false;         // the TCP peer is a --trusted-proxy: its X-Forwarded-* are kept
    bool secure = false;               // TLS, or a trusted proxy's X-Forwarded-Proto: https
    bool keep_alive = false;           // the client asked for it and the server is not stopping
    const std::vector<std::pair<std::string, std::string>>& extra; // added to the answer (Set-Cookie)
    // Filled in for the access log.
    unsigned status = 0;
    std::uint64_t bytes = 0;
};

} // namespace ag
