#include "util/gunzip.hpp"

#include <zlib.h>

#include <stdexcept>

namespace ag {

struct gunzip::impl {
    z_stream z{};
};

gunzip::gunzip(std::size_t max_output)
    : impl_(std::make_unique<impl>())
    , max_output_(max_output) {
    // 15 window bits + 32: accept gzip and zlib headers alike.
    if (inflateInit2(&impl_->z, 15 + 32) != Z_OK)
        throw std::runtime_error("inflateInit2 failed");
}

gunzip::~gunzip() {
    inflateEnd(&impl_->z);
}

void gunzip::feed(std::string_view in, std::string& out) {
    z_stream& z = impl_->z;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    char buf[64 * 1024];
    while (!finished_ && (z.avail_in > 0)) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        int rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            throw std::runtime_error(std::string("corrupt gzip body: ") + (z.msg ? z.msg : "inflate failed"));
        std::size_t n = sizeof buf - z.avail_out;
        produced_ += n;
        if (produced_ > max_output_)
            throw std::length_error("inflated body too large");
        out.append(buf, n);
        if (rc == Z_STREAM_END)
            finished_ = true;
        else if (rc == Z_BUF_ERROR || (n == 0 && z.avail_in == 0))
            break;
    }
}

} // namespace ag
