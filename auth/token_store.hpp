#pragma once
// The current gateway token and where it comes from. Thread-safe: check() runs on every I/O thread while the
// server's watch timer calls reload().
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ag::auth {

class token_store {
public:
    token_store(const token_store&) = delete;
    token_store& operator=(const token_store&) = delete;
    // A fixed token (--token), or a file (--token-file) that is re-read when it changes.
    static token_store fixed(const std::string& token);
    static token_store from_file(std::string path); // throws std::runtime_error if unreadable or empty
    // No token configured: reuse STATE/gateway-token if a previous run made one, else make one (32 random
    // bytes, hex) and write it with mode 0600. `created` tells which happened.
    static token_store generated(const std::string& state_dir, bool& created);

    token_store(token_store&&) noexcept;
    ~token_store();

    // Constant time in the content of the candidate and the token.
    bool check(std::string_view candidate) const;
    // Bumped by every rotation; long-lived streams compare it to notice that their token went away.
    std::uint64_t generation() const;
    bool is_current(std::string_view candidate, std::uint64_t generation) const;
    std::string current() const;
    const std::optional<std::string>& file() const { return file_; }

    // Re-reads the file when its identity, size or mtime changed (force: always). Returns true when the token
    // changed. An unreadable or empty file keeps the old token (a writer may be mid-way) and logs a warning.
    bool reload(bool force = false);

private:
    struct state;
    explicit token_store(std::optional<std::string> file);
    void set(std::string token);

    std::optional<std::string> file_;
    mutable std::mutex mutex_;
    std::shared_ptr<const state> state_;
    struct file_stamp {
        std::uint64_t dev = 0, ino = 0, size = 0;
        std::int64_t mtime_ns = 0;
        bool operator==(const file_stamp&) const = default;
    } stamp_;
};

// Trims surrounding whitespace; the token file may end with a newline.
std::string normalize_token(std::string_view raw);

} // namespace ag::auth
