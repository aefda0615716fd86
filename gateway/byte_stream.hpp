#pragma once
// A connection's bytes, whatever carries them: TCP, TLS, a unix socket, or memory in a test. The session is
// compiled once against this type instead of once per transport; each transport is a thin adapter
// (gateway/transports.cpp, gateway/transport_tls.cpp, tests/support/memory_transport.hpp).
//
// byte_stream models Asio's AsyncReadStream and AsyncWriteStream, so Beast's HTTP parser, serializer and
// WebSocket stream run over it unchanged. One read and one write may be outstanding at a time.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/container/static_vector.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace ag {

// Up to 64 buffers of one write, by value: the adapter's operation owns its copy of the list. (A response
// header is a buffer per field: eight would split a header into two sends.)
class buffer_list {
public:
    static constexpr std::size_t capacity = 64;
    template <class ConstBufferSequence> explicit buffer_list(const ConstBufferSequence& buffers) {
        for (auto it = boost::asio::buffer_sequence_begin(buffers);
             it != boost::asio::buffer_sequence_end(buffers) && items_.size() < capacity; ++it) {
            boost::asio::const_buffer b(*it);
            if (b.size() > 0)
                items_.push_back(b);
        }
    }
    const boost::asio::const_buffer* begin() const { return items_.data(); }
    const boost::asio::const_buffer* end() const { return items_.data() + items_.size(); }
    std::size_t count() const { return items_.size(); }
    std::size_t size() const; // bytes

private:
    // Only the buffers in use are constructed and copied (a small GET has one).
    boost::container::static_vector<boost::asio::const_buffer, capacity> items_;
};

// What one transport implements. Handlers complete through the transport's executor, never inline.
class transport {
public:
    using io_handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
    using wait_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

    transport() = default;
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;
    virtual ~transport() = default;

    virtual boost::asio::any_io_executor executor() = 0;
    virtual void read_some(boost::asio::mutable_buffer into, io_handler done) = 0;
    virtual void write_some(buffer_list from, io_handler done) = 0;
    // TLS: the server side of the handshake. Others complete at once.
    virtual void handshake(wait_handler done);
    // Orderly end of what we send: TLS close_notify, then FIN.
    virtual void shutdown(wait_handler done) = 0;
    // Ends outstanding operations with operation_aborted (deadlines, shutdown).
    virtual void cancel() = 0;
    // An abortive close (RST): what a client sees of a response cut short, never a clean end.
    virtual void reset() = 0;
    // The socket to sendfile(2) into, and waiting for it to take more; -1 where bytes must be written through
    // this interface (TLS, memory).
    virtual int sendfile_fd() { return -1; }
    virtual void wait_writable(wait_handler done);
    // Waiting for bytes to read without a buffer to read them into (an idle keep-alive connection holds
    // none). Transports that cannot tell complete at once: the caller then reads as usual.
    virtual void wait_readable(wait_handler done);
    virtual bool secure() const { return false; }
    // A plain TCP socket's reads and writes skip the type erasure (the common case: its cost was 5 % of a
    // small GET); null for every other transport.
    virtual boost::asio::ip::tcp::socket* tcp_socket() { return nullptr; }
};

class byte_stream {
public:
    using executor_type = boost::asio::any_io_executor;

    explicit byte_stream(std::unique_ptr<transport> t)
        : t_(std::move(t))
        , tcp_(t_->tcp_socket()) {}

    executor_type get_executor() { return t_->executor(); }
    transport& raw() { return *t_; }

    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        auto first = *boost::asio::buffer_sequence_begin(buffers);
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [](auto handler, byte_stream* self, boost::asio::mutable_buffer b) {
                if (!self->unread_.empty())
                    self->read_unread(b, std::move(handler));
                else if (self->tcp_)
                    self->tcp_->async_read_some(b, std::move(handler));
                else
                    self->t_->read_some(b, recycled(std::move(handler)));
            },
            token, this, boost::asio::mutable_buffer(first));
    }

    // Puts bytes back in front of the stream: the next reads return them first (what a client sent behind
    // an upgrade request, already read with its header).
    void unread(std::string_view bytes) { unread_.insert(0, bytes); }

    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [](auto handler, byte_stream* self, buffer_list b) {
                if (self->tcp_)
                    self->tcp_->async_write_some(b, std::move(handler));
                else
                    self->t_->write_some(b, recycled(std::move(handler)));
            },
            token, this, buffer_list(buffers));
    }

    template <class Token> auto async_wait_readable(Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [](auto handler, byte_stream* self) {
                if (!self->unread_.empty() || !self->tcp_)
                    self->t_->wait_readable(recycled(std::move(handler)));
                else
                    self->tcp_->async_wait(boost::asio::socket_base::wait_read, std::move(handler));
            },
            token, this);
    }

    template <class Token> auto async_handshake(Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [](auto handler, transport* t) { t->handshake(std::move(handler)); }, token, t_.get());
    }
    template <class Token> auto async_shutdown(Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [](auto handler, transport* t) { t->shutdown(std::move(handler)); }, token, t_.get());
    }
    template <class Token> auto async_wait_writable(Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [](auto handler, byte_stream* self) {
                if (self->tcp_)
                    self->tcp_->async_wait(boost::asio::socket_base::wait_write, std::move(handler));
                else
                    self->t_->wait_writable(recycled(std::move(handler)));
            },
            token, this);
    }

    void cancel() { t_->cancel(); }
    void reset() { t_->reset(); }
    int sendfile_fd() { return t_->sendfile_fd(); }
    bool secure() const { return t_->secure(); }

private:
    // The type-erased handler, and the socket operation holding it, are allocated from Asio's per-thread
    // recycling cache instead of the heap (two allocations per read and per write otherwise: measured 5 %
    // on small GETs).
    template <class Handler> static auto recycled(Handler&& h) {
        return boost::asio::bind_allocator(boost::asio::recycling_allocator<void>(),
                                           std::forward<Handler>(h));
    }
    void read_unread(boost::asio::mutable_buffer into, transport::io_handler done);

    std::unique_ptr<transport> t_;
    boost::asio::ip::tcp::socket* tcp_; // t_'s socket when it is plain TCP
    std::string unread_;
};

} // namespace ag
