#pragma once
// A background process's output on disk (docs/api.md §18): both streams in one sequence of bytes, each byte
// with an offset, of which the last `limit` are kept. The bytes live in segment files of `limit / 8` bytes
// (at most 1 MiB) each under one directory; the oldest segment goes once the others hold `limit`, so what is
// kept is `limit` less at most one segment. A segment is a run of records: offset (8 bytes, little endian),
// stream (1), length (4), data.
//
// Reads and writes touch the disk: call them on the blocking pool. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::engine {

class output_log {
public:
    // Opens what `dir` holds (a daemon restart keeps it) or starts empty; makes `dir`. Throws
    // std::system_error.
    output_log(std::string dir, std::uint64_t limit);
    ~output_log();
    output_log(const output_log&) = delete;
    output_log& operator=(const output_log&) = delete;

    // Appends bytes of one stream (0 stdout, 1 stderr). Throws std::system_error.
    void append(int stream, std::string_view data);

    std::uint64_t start() const; // the oldest byte kept
    std::uint64_t end() const;   // every byte ever appended

    struct chunk {
        std::uint64_t offset = 0;
        int stream = 0;
        std::string data;
    };
    struct read_result {
        std::optional<std::uint64_t> gap_to; // `from` was no longer kept: the chunks start here
        std::vector<chunk> chunks;           // in order; adjacent pieces of one stream joined
    };
    // Up to about `max` bytes from `from` (clamped to end()).
    read_result read(std::uint64_t from, std::size_t max) const;

    // Removes the directory and what it holds. Nothing may be appended after it.
    void remove() noexcept;

private:
    struct segment {
        std::uint64_t first = 0; // offset of its first byte
        std::uint64_t bytes = 0; // data bytes it holds
        std::string path;
    };
    void open_segment(std::uint64_t first);
    void trim();

    std::string dir_;
    std::uint64_t limit_;
    std::uint64_t segment_bytes_;
    mutable std::mutex mutex_;
    std::vector<segment> segments_;
    std::uint64_t end_ = 0;
    int fd_ = -1; // the newest segment, open for appending
};

} // namespace ag::engine
