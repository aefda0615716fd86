#pragma once
// A transport made of memory, for running the real HTTP session without a socket: the test is the client,
// writes bytes in, and reads what the session wrote. Everything runs on one io_context driven by the test
// (run_until), so there are no threads and no sleeps; each wait is bounded.
#include "gateway/byte_stream.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace test {

struct memory_wire {
    std::string to_server;           // sent by the client, not yet read by the session
    bool client_closed = false;      // the client's FIN
    std::string from_server;         // what the session wrote
    bool server_shut = false;        // the session's orderly shutdown
    bool server_reset = false;       // the session's abortive close (a response cut short)
    std::size_t max_write = 1 << 20; // bytes one write_some takes: small values make a slow reader
    std::vector<std::size_t> writes; // the size of each write_some, in order
    bool secure = false;

    std::optional<ag::transport::io_handler> pending_read;
    boost::asio::mutable_buffer pending_into;
};

class memory_transport final : public ag::transport {
public:
    memory_transport(boost::asio::io_context& ioc, std::shared_ptr<memory_wire> wire)
        : ioc_(ioc)
        , wire_(std::move(wire)) {}

    boost::asio::any_io_executor executor() override { return ioc_.get_executor(); }

    void read_some(boost::asio::mutable_buffer into, io_handler done) override {
        wire_->pending_read = std::move(done);
        wire_->pending_into = into;
        deliver(ioc_, *wire_);
    }
    void write_some(ag::buffer_list from, io_handler done) override {
        if (wire_->server_reset || wire_->server_shut) {
            complete(std::move(done), boost::asio::error::broken_pipe, 0);
            return;
        }
        std::size_t n = 0;
        for (const auto& b : from) {
            std::size_t take = std::min(b.size(), wire_->max_write - n);
            wire_->from_server.append(static_cast<const char*>(b.data()), take);
            n += take;
            if (n == wire_->max_write)
                break;
        }
        wire_->writes.push_back(n);
        complete(std::move(done), {}, n);
    }
    void shutdown(wait_handler done) override {
        wire_->server_shut = true;
        boost::asio::post(ioc_,
                          [h = std::move(done)]() mutable { std::move(h)(boost::system::error_code{}); });
    }
    void cancel() override {
        if (auto h = std::exchange(wire_->pending_read, std::nullopt))
            complete(std::move(*h), boost::asio::error::operation_aborted, 0);
    }
    void reset() override {
        wire_->server_reset = true;
        cancel();
    }
    bool secure() const override { return wire_->secure; }

    // Completes a waiting read with what the client has sent (or its FIN).
    static void deliver(boost::asio::io_context& ioc, memory_wire& w) {
        if (!w.pending_read || (w.to_server.empty() && !w.client_closed))
            return;
        auto h = std::move(*w.pending_read);
        w.pending_read.reset();
        if (w.to_server.empty()) {
            post(ioc, std::move(h), boost::asio::error::eof, 0);
            return;
        }
        std::size_t n = std::min(w.to_server.size(), w.pending_into.size());
        std::memcpy(w.pending_into.data(), w.to_server.data(), n);
        w.to_server.erase(0, n);
        post(ioc, std::move(h), {}, n);
    }

private:
    static void post(boost::asio::io_context& ioc, io_handler h, boost::system::error_code ec,
                     std::size_t n) {
        boost::asio::post(ioc, [h = std::move(h), ec, n]() mutable { std::move(h)(ec, n); });
    }
    void complete(io_handler h, boost::system::error_code ec, std::size_t n) {
        post(ioc_, std::move(h), ec, n);
    }

    boost::asio::io_context& ioc_;
    std::shared_ptr<memory_wire> wire_;
};

// The client's end of one in-memory connection.
struct memory_client {
    boost::asio::io_context& ioc;
    std::shared_ptr<memory_wire> wire = std::make_shared<memory_wire>();

    std::unique_ptr<ag::transport> server_end() { return std::make_unique<memory_transport>(ioc, wire); }

    void send(std::string_view bytes) {
        wire->to_server.append(bytes);
        memory_transport::deliver(ioc, *wire);
    }
    void close() {
        wire->client_closed = true;
        memory_transport::deliver(ioc, *wire);
    }
    // Runs the session until `done()` holds or `limit` passes; returns whether it held. The limit bounds a
    // failure only: generous, for a sanitizer build on a loaded machine, where a 100 kB answer written 7
    // bytes at a time once took over 5 s.
    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() >= until)
                return false;
            ioc.restart();
            ioc.run_one_for(std::chrono::milliseconds(50));
        }
        return true;
    }
    // The session ended the connection, one way or the other.
    bool ended() const { return wire->server_shut || wire->server_reset; }
    // Everything the session wrote so far, taken.
    std::string take() { return std::exchange(wire->from_server, {}); }
};

} // namespace test
