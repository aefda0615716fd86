#include "gateway/byte_stream.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>

namespace ag {

std::size_t buffer_list::size() const {
    std::size_t n = 0;
    for (const auto& b : *this)
        n += b.size();
    return n;
}

void transport::handshake(wait_handler done) {
    boost::asio::post(executor(),
                      [h = std::move(done)]() mutable { std::move(h)(boost::system::error_code{}); });
}

void transport::wait_writable(wait_handler done) {
    boost::asio::post(executor(), [h = std::move(done)]() mutable {
        std::move(h)(make_error_code(boost::asio::error::operation_not_supported));
    });
}

void transport::wait_readable(wait_handler done) {
    boost::asio::post(executor(),
                      [h = std::move(done)]() mutable { std::move(h)(boost::system::error_code{}); });
}

void byte_stream::read_unread(boost::asio::mutable_buffer into, transport::io_handler done) {
    std::size_t n = std::min(into.size(), unread_.size());
    std::memcpy(into.data(), unread_.data(), n);
    unread_.erase(0, n);
    boost::asio::post(t_->executor(),
                      [h = std::move(done), n]() mutable { std::move(h)(boost::system::error_code{}, n); });
}

} // namespace ag
