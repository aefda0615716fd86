#pragma once
// A small blocking WebSocket client on Beast for the tests, with deadlines on every wait.
#include "support/gateway.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace test {

class ws_client {
public:
    // Connects to 127.0.0.1:port and upgrades `target` with `headers`; throws std::runtime_error (with the
    // HTTP status in the message) when refused. `receive_buffer` (bytes, 0 = default) shrinks SO_RCVBUF so a
    // client that stops reading stalls the server's writes sooner.
    ws_client(int port, const std::string& target, const header_list& headers = {}, int receive_buffer = 0);
    ~ws_client();
    ws_client(const ws_client&) = delete;

    // The next message; nullopt when the server closed (see close_code()) or nothing came within `wait`
    // (then the client is unusable).
    std::optional<std::string> read(std::chrono::milliseconds wait = std::chrono::seconds(10));
    // Sends one text message (bounded by 5 s); false when it could not be sent.
    bool send(const std::string& text);
    bool send_binary(const std::string& data);
    // Whether the message read() returned last was a binary one.
    bool last_binary() const;
    // The close code the server sent, 0 if none yet; -1 when the connection dropped without one.
    int close_code() const;
    std::string close_reason() const;
    bool timed_out() const;
    void close();
    // Starts a close handshake with this code and reason; read() then returns nullopt with the peer's answer.
    void send_close(int code, const std::string& reason);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Connects and returns the HTTP status of a refused upgrade (101 when it succeeded).
int ws_upgrade_status(int port, const std::string& target, const header_list& headers = {});

} // namespace test
