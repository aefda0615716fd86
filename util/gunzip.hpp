#pragma once
// Streaming inflate of a gzip (or zlib) request body, with a cap on what it may expand to.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace ag {

class gunzip {
public:
    explicit gunzip(std::size_t max_output);
    ~gunzip();
    gunzip(const gunzip&) = delete;
    gunzip& operator=(const gunzip&) = delete;

    // Appends what `in` inflates to. Throws std::length_error past max_output, std::runtime_error on corrupt
    // input.
    void feed(std::string_view in, std::string& out);
    bool finished() const { return finished_; }

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::size_t max_output_;
    std::size_t produced_ = 0;
    bool finished_ = false;
};

} // namespace ag
