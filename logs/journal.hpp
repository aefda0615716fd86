#pragma once
// The one journal of log entries (docs/api.md §7): producers append lines, the journal assigns `seq`, keeps
// the last entries in memory and on disk under STATE/logs, and continues the sequence after a restart.
// Thread-safe.
//
// On disk: append-only segment files of JSON lines, `segment-<first seq>.jsonl`. A crash mid-write can leave
// only the last line of the newest segment partial; loading skips it, and every start writes to a new
// segment, so it is never appended to. When a segment holds `keep` entries a new one starts; the oldest
// segments are removed only while the newer ones hold `keep` entries, and a start that finds many segments
// compacts the kept entries into one.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ag::logs {

enum class level { trace, debug, info, warn, error, fatal };

std::string_view level_name(level l) noexcept;           // "TRACE" ... "FATAL"
std::optional<level> parse_level(std::string_view name); // case-insensitive; "warning" and "err" too

struct entry {
    std::uint64_t seq = 0;
    std::string timestamp; // ISO-8601 UTC with milliseconds
    level lvl = level::info;
    std::string source;
    std::string message;
    bool operator==(const entry&) const = default;
};

std::string to_json(const entry& e); // {"seq":…,"timestamp":…,"level":…,"source":…,"message":…}
void append_json(std::string& out, const entry& e);
std::optional<entry> from_json(std::string_view line);
std::string to_line(const entry& e); // "TIMESTAMP LEVEL [source] message"

constexpr std::size_t max_message_bytes = 64 * 1024;

// A line before the journal numbers and stamps it (what decode_line() makes of a printed line).
struct decoded_line {
    level lvl = level::info;
    std::string source;
    std::string message;
};

class journal {
public:
    // Loads what an earlier run left in `dir` (created if missing). Throws std::system_error if `dir` is
    // unusable.
    explicit journal(std::string dir, std::size_t keep = 1000);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    // Appends a line; one longer than 64 KiB becomes several entries, split on UTF-8 boundaries, never
    // dropped. Returns the last seq assigned. If the disk fails the entries are still kept in memory (logged
    // once).
    // `on_entry` sees each entry and its JSON (no newline) while the journal is locked, so observers see
    // entries in seq order.
    using entry_observer = std::function<void(const entry&, std::string_view json)>;
    std::uint64_t append(level lvl, std::string_view source, std::string_view message,
                         const entry_observer& on_entry = {});

    // Appends several lines with one timestamp and one write() (a pipe read's worth of lines): a crash can
    // lose at most this batch, never an earlier entry.
    std::uint64_t append_batch(const std::vector<decoded_line>& lines, const entry_observer& on_entry = {});

    std::vector<entry> last(std::size_t n) const;      // oldest first
    std::vector<entry> after(std::uint64_t seq) const; // entries with a greater seq still held, oldest first
    // The same, at most `max` of them: a reader that pages through the journal (the Loki shipper).
    std::vector<entry> after(std::uint64_t seq, std::size_t max) const;
    std::uint64_t last_seq() const;

private:
    void open_segment(std::uint64_t first_seq);
    void add_locked(const std::string& timestamp, level lvl, std::string_view source,
                    std::string_view message, const entry_observer& on_entry);
    void flush_pending(); // one write() of the lines added since the last flush
    void rotate_if_full();
    void prune_segments();
    void compact();

    std::string dir_;
    std::size_t keep_;
    mutable std::mutex mutex_;
    std::vector<entry> ring_; // circular, capacity keep_
    std::size_t ring_start_ = 0;
    std::uint64_t last_seq_ = 0;
    int fd_ = -1;
    std::string pending_;
    std::deque<std::pair<std::string, std::size_t>> segments_; // oldest first: file name, entries in it
    bool disk_failed_ = false;
};

} // namespace ag::logs
