#pragma once
// Terminal sessions (docs/api.md §17): a command on a pseudo-terminal that outlives the WebSockets watching
// it. Each session keeps the last 1 MiB of its output in a ring; viewers read from the ring at their own pace
// (one behind the ring gets a gap), so a viewer that stops reading costs nothing but its socket buffers.
//
// A session's I/O (the terminal's master side, its exit, its idle timer) runs on the reaper's io_context;
// every public member is thread-safe, so viewers may live on any I/O thread.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace ag::engine {

class child_reaper;

// The last `limit` bytes of a stream whose every byte has an offset. Grows as it fills, up to `limit`.
// Not thread-safe.
class byte_ring {
public:
    explicit byte_ring(std::size_t limit)
        : limit_(limit) {}
    void append(std::string_view data);
    std::uint64_t start() const noexcept { return start_; } // oldest byte kept
    std::uint64_t end() const noexcept { return end_; }     // every byte ever appended
    // Appends to `out` up to `max` bytes from `from` (start() <= from <= end()).
    void copy(std::uint64_t from, std::size_t max, std::string& out) const;
    std::size_t capacity() const noexcept { return buf_.capacity(); }

private:
    std::size_t limit_;
    std::vector<char> buf_; // offset o lives at o % limit_
    std::uint64_t start_ = 0;
    std::uint64_t end_ = 0;
};

struct pty_options {
    std::string command; // run as /bin/sh -c command
    std::string cwd;
    std::vector<std::string> env; // KEY=VALUE, TERM included
    unsigned short cols = 80;
    unsigned short rows = 24;
};

struct pty_info {
    std::string id;
    std::string command;
    pid_t pid = -1;
    unsigned short cols = 80;
    unsigned short rows = 24;
    std::string created_at; // ISO-8601 UTC
    unsigned attached = 0;
    std::uint64_t offset = 0;
    bool exited = false;
    std::optional<int> exit_code; // 128+N when ended by signal N
    int signal = 0;
};

class pty_session;

// The sessions of this daemon: at most `max_sessions` live ones, each kept `idle_timeout` after its last
// viewer left. Thread-safe.
class pty_sessions {
public:
    static constexpr std::size_t ring_bytes = 1024 * 1024;
    static constexpr std::size_t max_sessions = 16;

    pty_sessions(boost::asio::io_context& ioc, child_reaper& reaper, std::chrono::milliseconds idle_timeout);
    ~pty_sessions();
    pty_sessions(const pty_sessions&) = delete;
    pty_sessions& operator=(const pty_sessions&) = delete;

    // Starts a session, already attached once (the caller detaches it). Null when `max_sessions` are
    // running. Throws std::system_error when the terminal or the process cannot be made.
    std::shared_ptr<pty_session> start(pty_options options);
    // A kept session, attached once; null when unknown.
    std::shared_ptr<pty_session> attach(std::string_view id);
    std::vector<pty_info> list() const;
    // Ends a session (SIGHUP, SIGKILL 2 s later) and forgets it; false when unknown.
    bool end(std::string_view id);
    // Shutdown: ends every session. Idempotent.
    void stop() noexcept;

private:
    friend class pty_session;
    void forget(const pty_session* s);

    boost::asio::io_context& ioc_;
    child_reaper& reaper_;
    std::chrono::milliseconds idle_timeout_;
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<pty_session>> sessions_;
    bool stopped_ = false;
};

// One session. Viewers attach (through pty_sessions), read the ring from an offset, get woken when more is
// there, and detach. Thread-safe.
class pty_session : public std::enable_shared_from_this<pty_session> {
public:
    struct read_result {
        std::optional<std::uint64_t> gap_to; // `from` was older than what is kept: resume here
        std::string data;                    // bytes from `from` (or from gap_to)
        bool ended = false;                  // exited, and every byte is read
    };

    pty_session(boost::asio::io_context& ioc, pty_sessions& owner, std::string id, pty_options options);
    ~pty_session();
    pty_session(const pty_session&) = delete;
    pty_session& operator=(const pty_session&) = delete;

    const std::string& id() const noexcept { return id_; }
    pty_info info() const;
    std::uint64_t start_offset() const; // oldest byte kept
    std::uint64_t end_offset() const;   // every byte written so far

    // At most `max` bytes from `from`; a gap first when `from` is no longer kept.
    read_result read(std::uint64_t from, std::size_t max) const;

    // `wake` is called (on the session's thread) whenever output or the exit comes; keep it cheap (post).
    // Returns a token for unsubscribe().
    std::uint64_t subscribe(std::function<void()> wake);
    void unsubscribe(std::uint64_t token);
    // One attach of pty_sessions ends: the last one starts the idle timer.
    void detach();

    // Keystrokes. Up to 1 MiB may wait for a program that does not read its input; more is dropped.
    void write_input(std::string data);
    void resize(unsigned short cols, unsigned short rows);
    // To the terminal's foreground process group (the shell's own when it runs nothing).
    void signal(int sig);
    // SIGHUP to the session's process groups, SIGKILL 2 s later.
    void end();

private:
    friend class pty_sessions;
    struct io;
    void launch(child_reaper& reaper);
    void attach();
    void notify();
    void read_more();
    void write_more();
    void finish();
    void arm_idle();

    pty_sessions& owner_;
    const std::string id_;
    const pty_options options_;
    std::unique_ptr<io> io_; // touched on the session's thread only
    mutable std::mutex mutex_;
    byte_ring ring_{pty_sessions::ring_bytes};
    std::vector<std::pair<std::uint64_t, std::function<void()>>> viewers_;
    std::uint64_t next_token_ = 1;
    unsigned attached_ = 0;
    unsigned short cols_, rows_;
    pid_t pid_ = -1;
    std::string created_at_;
    bool exited_ = false; // the process is gone and its output read
    int wait_status_ = 0;
    bool ending_ = false;
};

} // namespace ag::engine
