#include "logs/journal.hpp"

#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/time_format.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace ag::logs {
namespace {

constexpr std::string_view segment_prefix = "segment-";
constexpr std::string_view segment_suffix = ".jsonl";
constexpr std::size_t max_segments_at_start = 8;

std::vector<std::string> segments_in(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string_view n = e->d_name;
            if (n.starts_with(segment_prefix) && n.ends_with(segment_suffix))
                names.emplace_back(n);
        }
        ::closedir(d);
    }
    // Zero-padded first seq: name order is seq order.
    std::sort(names.begin(), names.end());
    return names;
}

// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::size_t utf8_cut(std::string_view s, std::size_t max) {
    if (s.size() <= max)
        return s.size();
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        --cut;
    return cut == 0 ? max : cut;
}

} // namespace

std::string_view level_name(level l) noexcept {
    switch (l) {
    case level::trace:
        return "TRACE";
    case level::debug:
        return "DEBUG";
    case level::info:
        return "INFO";
    case level::warn:
        return "WARN";
    case level::error:
        return "ERROR";
    case level::fatal:
        return "FATAL";
    }
    return "INFO";
}

std::optional<level> parse_level(std::string_view name) {
    std::string n(text::trim(name));
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::toupper(c); });
    if (n == "TRACE")
        return level::trace;
    if (n == "DEBUG")
        return level::debug;
    if (n == "INFO")
        return level::info;
    if (n == "WARN" || n == "WARNING")
        return level::warn;
    if (n == "ERROR" || n == "ERR")
        return level::error;
    if (n == "FATAL" || n == "CRITICAL")
        return level::fatal;
    return std::nullopt;
}

namespace {

// A JSON string for text that is already valid UTF-8 (the journal makes it so): only quotes, backslashes and
// control characters need escaping. Entries are serialised once each, on the path of every log line, so
// this replaces building a json object per entry (measured: most of the daemon's time in a flood).
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

} // namespace

void append_json(std::string& out, const entry& e) {
    out += R"({"seq":)";
    out += std::to_string(e.seq);
    out += R"(,"timestamp":)";
    append_json_string(out, e.timestamp);
    out += R"(,"level":")";
    out += level_name(e.lvl);
    out += R"(","source":)";
    append_json_string(out, e.source);
    out += ",\"message\":";
    append_json_string(out, e.message);
    out += '}';
}

std::string to_json(const entry& e) {
    std::string out;
    out.reserve(e.message.size() + e.source.size() + 96);
    append_json(out, e);
    return out;
}

std::optional<entry> from_json(std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object())
        return std::nullopt;
    auto seq = j.find("seq");
    auto ts = j.find("timestamp");
    auto lv = j.find("level");
    auto src = j.find("source");
    auto msg = j.find("message");
    if (seq == j.end() || !seq->is_number_unsigned() || ts == j.end() || !ts->is_string() || lv == j.end() ||
        !lv->is_string() || src == j.end() || !src->is_string() || msg == j.end() || !msg->is_string())
        return std::nullopt;
    auto l = parse_level(lv->get<std::string>());
    if (!l)
        return std::nullopt;
    return entry{seq->get<std::uint64_t>(), ts->get<std::string>(), *l, src->get<std::string>(),
                 msg->get<std::string>()};
}

std::string to_line(const entry& e) {
    return fmt::format("{} {} [{}] {}", e.timestamp, level_name(e.lvl), e.source, e.message);
}

journal::journal(std::string dir, std::size_t keep)
    : dir_(std::move(dir))
    , keep_(std::max<std::size_t>(keep, 1)) {
    fs_util::make_directories(dir_, 0700);
    // Everything an earlier run left, oldest first; lines that do not parse (a write cut short) are skipped.
    std::vector<entry> loaded;
    for (const auto& name : segments_in(dir_)) {
        std::ifstream in(dir_ + "/" + name, std::ios::binary);
        std::size_t count = 0;
        for (std::string line; std::getline(in, line);) {
            if (in.eof())
                break; // no newline: the write of this line never finished
            if (auto e = from_json(line); e && e->seq > last_seq_) {
                last_seq_ = e->seq;
                loaded.push_back(std::move(*e));
                ++count;
            }
        }
        segments_.emplace_back(name, count);
    }
    std::size_t from = loaded.size() > keep_ ? loaded.size() - keep_ : 0;
    ring_.reserve(keep_);
    for (std::size_t i = from; i < loaded.size(); ++i)
        ring_.push_back(std::move(loaded[i]));
    if (segments_.size() > max_segments_at_start)
        compact();
    open_segment(last_seq_ + 1);
}

// Many short runs leave many small segments: the entries kept go into one, the rest are removed.
void journal::compact() {
    if (ring_.empty())
        return;
    std::string all;
    for (const auto& e : ring_) {
        append_json(all, e);
        all += '\n';
    }
    const std::string name = fmt::format("{}{:020}{}", segment_prefix, ring_.front().seq, segment_suffix);
    try {
        fs_util::write_file_atomic(dir_ + "/" + name, all, 0600);
    } catch (const std::exception& e) {
        log::warn("log journal: cannot compact {}: {}", dir_, e.what());
        return;
    }
    for (const auto& [old, count] : segments_)
        if (old != name)
            ::unlink((dir_ + "/" + old).c_str());
    segments_.assign(1, {name, ring_.size()});
}

journal::~journal() {
    if (fd_ >= 0)
        ::close(fd_);
}

void journal::open_segment(std::uint64_t first_seq) {
    if (fd_ >= 0)
        ::close(fd_);
    std::string path = dir_ + "/" + fmt::format("{}{:020}{}", segment_prefix, first_seq, segment_suffix);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "open " + path);
    segments_.emplace_back(path.substr(dir_.size() + 1), 0);
    prune_segments();
}

// The oldest segments go while the newer ones still hold the last `keep` entries: however many restarts
// opened short segments, the last `keep` entries survive.
void journal::prune_segments() {
    std::size_t total = 0;
    for (const auto& seg : segments_)
        total += seg.second;
    while (segments_.size() > 1 && total - segments_.front().second >= keep_) {
        total -= segments_.front().second;
        ::unlink((dir_ + "/" + segments_.front().first).c_str());
        segments_.pop_front();
    }
}

void journal::flush_pending() {
    // One write() with O_APPEND: a crash leaves at most the last line partial, never an earlier one.
    std::string_view rest = pending_;
    while (!rest.empty()) {
        ssize_t n = ::write(fd_, rest.data(), rest.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!disk_failed_)
                log::error("log journal in {}: write failed ({}); entries stay in memory only", dir_,
                           std::strerror(errno));
            disk_failed_ = true;
            pending_.clear();
            return;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    pending_.clear();
    disk_failed_ = false;
}

void journal::rotate_if_full() {
    if (++segments_.back().second < keep_)
        return;
    flush_pending();
    try {
        open_segment(last_seq_ + 1);
    } catch (const std::system_error& e) {
        log::error("log journal: {}", e.what());
    }
}

void journal::add_locked(const std::string& timestamp, level lvl, std::string_view source,
                         std::string_view message, const entry_observer& on_entry) {
    do {
        std::size_t n = utf8_cut(message, max_message_bytes);
        entry e{++last_seq_, timestamp, lvl, std::string(source), text::to_valid_utf8(message.substr(0, n))};
        message.remove_prefix(n);
        std::size_t at = pending_.size();
        append_json(pending_, e);
        if (on_entry)
            on_entry(e, std::string_view(pending_).substr(at));
        pending_ += '\n';
        rotate_if_full();
        if (ring_.size() < keep_) {
            ring_.push_back(std::move(e));
        } else {
            ring_[ring_start_] = std::move(e);
            ring_start_ = (ring_start_ + 1) % keep_;
        }
    } while (!message.empty());
}

std::uint64_t journal::append(level lvl, std::string_view source, std::string_view message,
                              const entry_observer& on_entry) {
    std::string timestamp = time_format::iso8601_ms_now();
    std::lock_guard lock(mutex_);
    add_locked(timestamp, lvl, source, message, on_entry);
    flush_pending();
    return last_seq_;
}

std::uint64_t journal::append_batch(const std::vector<decoded_line>& lines, const entry_observer& on_entry) {
    std::string timestamp = time_format::iso8601_ms_now();
    std::lock_guard lock(mutex_);
    for (const auto& l : lines)
        add_locked(timestamp, l.lvl, l.source, l.message, on_entry);
    flush_pending();
    return last_seq_;
}

std::vector<entry> journal::last(std::size_t n) const {
    std::lock_guard lock(mutex_);
    std::size_t count = std::min(n, ring_.size());
    std::vector<entry> out;
    out.reserve(count);
    for (std::size_t i = ring_.size() - count; i < ring_.size(); ++i)
        out.push_back(ring_[(ring_start_ + i) % ring_.size()]);
    return out;
}

std::vector<entry> journal::after(std::uint64_t seq) const {
    return after(seq, keep_);
}

std::vector<entry> journal::after(std::uint64_t seq, std::size_t max) const {
    std::lock_guard lock(mutex_);
    std::vector<entry> out;
    for (std::size_t i = 0; i < ring_.size() && out.size() < max; ++i) {
        const auto& e = ring_[(ring_start_ + i) % ring_.size()];
        if (e.seq > seq)
            out.push_back(e);
    }
    return out;
}

std::uint64_t journal::last_seq() const {
    std::lock_guard lock(mutex_);
    return last_seq_;
}

} // namespace ag::logs
