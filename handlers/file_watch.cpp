// The WebSocket GET …/files/watch (docs/api.md §19): changes below a directory as they happen.
//
// Three coroutines on the connection's thread: the watcher reads the inotify descriptor and queues messages,
// the writer sends them (one at a time, from a queue bounded as the log stream's), the reader answers the
// client's control frames. Directory walks (the start, a new directory, the tree again after an overflow)
// run on the blocking pool.
#include "handlers/routes.hpp"

#include "config/daemon_config.hpp"
#include "files/paths.hpp"
#include "files/watch.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "gateway/websocket_session.hpp"
#include "handlers/file_query.hpp"
#include "handlers/stream_viewer.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <fstream>
#include <optional>
#include <system_error>
#include <vector>

namespace ag {
namespace {

using namespace std::chrono_literals;
constexpr std::size_t max_queued_bytes = 1024 * 1024; // as the log stream's (§7)
constexpr std::size_t read_size = 32 * 1024;          // a few hundred records per read
// The kernel queues a move's two halves together; a first half read alone waits this long for the second.
constexpr auto move_wait = 50ms;

// The kernel's limit named in a refusal, so that the operator knows what to raise: the sysctl
// fs.inotify.max_user_NAME, or the user namespace's own user.max_inotify_NAME where that one is lower.
std::string limit_text(const std::string& name) {
    auto read = [](const std::string& file) -> std::optional<unsigned long long> {
        std::ifstream in(file);
        unsigned long long v = 0;
        if (in >> v)
            return v;
        return std::nullopt;
    };
    auto global = read("/proc/sys/fs/inotify/max_user_" + name);
    auto own = read("/proc/sys/user/max_inotify_" + name);
    if (own && (!global || *own < *global))
        return "user.max_inotify_" + name + " = " + std::to_string(*own);
    return "fs.inotify.max_user_" + name + (global ? " = " + std::to_string(*global) : "");
}

std::string too_many_watches(const std::string& dir) {
    return "Cannot watch " + dir + ": the kernel's limit of inotify watches is reached (" +
           limit_text("watches") + ")";
}

// Before the upgrade: the path rules of the other file routes, and the whole tree watched, so that what
// cannot be watched is an ordinary JSON answer.
asio::awaitable<std::optional<response>> check_watch(const file_watch_routes& area, request& req) {
    std::string path = file_query::path(req, area.cfg.root);
    const bool recursive = file_query::flag(req, "recursive");
    std::shared_ptr<files::tree_watch> w;
    try {
        w = std::make_shared<files::tree_watch>(path, recursive);
    } catch (const std::system_error& e) {
        log::warn("files/watch: {}", e.what());
        if (e.code().value() == EMFILE)
            throw api_error(error_kind::forbidden, "Too many watches open: the kernel's limit of inotify "
                                                   "instances is reached (" +
                                                       limit_text("instances") + ")");
        throw api_error(error_kind::internal, "Cannot watch files");
    }
    auto walk = [w] { return w->add(w->root(), false); };
    auto added = co_await area.pool.call(walk);
    if (added.error == ENOSPC) {
        log::warn("files/watch: {}", too_many_watches(added.failed));
        throw api_error(error_kind::forbidden, too_many_watches(added.failed));
    }
    if (added.error != 0 && added.failed == path)
        files::throw_directory_error(added.error);
    if (added.error != 0) {
        log::warn("files/watch: cannot watch {}: {}", added.failed,
                  std::generic_category().message(added.error));
        throw api_error(error_kind::internal, "Cannot watch files");
    }
    w->adopt(added, true);
    req.upgrade_state = std::move(w);
    co_return std::nullopt;
}

// Shared by the three coroutines and the shutdown hook; all on the connection's thread.
struct watch_state : stream_viewer::state_base {
    explicit watch_state(const asio::any_io_executor& ex)
        : state_base(ex)
        , move_timer(ex) {}
    files::event_queue queue{max_queued_bytes};
    asio::steady_timer move_timer;
    bool ending = false;    // the writer is done: the watcher stops
    bool root_gone = false; // the watched directory went away: close once the queue is sent
    bool failed = false;    // reading the descriptor failed
};

class watch_stream {
public:
    watch_stream(const file_watch_routes& area, websocket_connection& conn, std::shared_ptr<watch_state> st,
                 files::tree_watch& tree, asio::posix::stream_descriptor& inotify, std::string token)
        : area_(area)
        , conn_(conn)
        , st_(std::move(st))
        , tree_(tree)
        , inotify_(inotify)
        , token_(area.tokens, std::move(token)) {}

    asio::awaitable<void> writer() {
        for (;;) {
            auto end = co_await stream_viewer::ending(conn_, *st_, token_);
            if (end)
                break;
            if (!st_->queue.empty()) {
                auto message = st_->queue.pop();
                auto ec = co_await conn_.send_text(message);
                if (ec)
                    break;
                continue;
            }
            if (st_->root_gone) {
                co_await conn_.close(1000, "the watched directory is gone");
                break;
            }
            if (st_->failed) {
                co_await conn_.close(1011, "watching failed");
                break;
            }
            st_->wake.expires_after(stream_viewer::token_check_every);
            co_await st_->wake.async_wait(use_tuple);
        }
        // Ends the watcher (its pending wait) and the reader.
        st_->ending = true;
        boost::system::error_code ignored;
        inotify_.cancel(ignored);
        st_->move_timer.cancel();
        conn_.abort();
    }

    asio::awaitable<void> reader() {
        // The client has nothing to say; reading answers its pings and notices its close.
        for (;;) {
            auto [ec, message] = co_await conn_.read_message();
            if (ec)
                break;
        }
        st_->peer_gone = true;
        st_->poke();
    }

    asio::awaitable<void> watcher() {
        using namespace asio::experimental::awaitable_operators;
        // A stream's own buffer: the reactor reads into it before this coroutine resumes. A read returns
        // whole records only.
        std::vector<char> buf(read_size);
        while (!st_->ending) {
            if (tree_.move_pending()) {
                st_->move_timer.expires_after(move_wait);
                // Either at once (asio's awaitable operator, not a short circuit), named apart from the
                // co_await.
                auto either = inotify_.async_wait(asio::posix::stream_descriptor::wait_read, use_tuple) ||
                              st_->move_timer.async_wait(use_tuple);
                auto first = co_await std::move(either);
                if (st_->ending)
                    break;
                if (first.index() == 1) {
                    auto lone = tree_.flush();
                    co_await apply(lone);
                    continue;
                }
            }
            auto [ec, n] = co_await inotify_.async_read_some(asio::buffer(buf), use_tuple);
            if (st_->ending)
                break;
            if (ec == asio::error::would_block || ec == asio::error::try_again)
                continue;
            if (ec) {
                log::error("files/watch: reading inotify: {}", ec.message());
                st_->failed = true;
                st_->poke();
                break;
            }
            auto batch = tree_.feed(std::string_view(buf.data(), n));
            co_await apply(batch);
        }
    }

private:
    void publish(const files::watch_event& e) {
        st_->queue.push(files::to_json(e));
        st_->poke();
    }

    void publish_error(const files::added_tree& added) {
        if (added.error == ENOSPC)
            log::warn("files/watch: {}", too_many_watches(added.failed));
        else
            log::warn("files/watch: cannot watch {}: {}", added.failed,
                      std::generic_category().message(added.error));
        files::watch_event e{files::change::error, added.failed, true, {}, {}};
        e.message = added.error == ENOSPC ? too_many_watches(added.failed) : "Cannot watch " + added.failed;
        publish(e);
    }

    // Watches the new directories a batch names, then sends what it means: a client that acts on a new
    // directory's create finds it watched already. Their scans follow, so a create for a directory comes
    // before those of what it holds.
    asio::awaitable<void> apply(files::watch_batch& batch) {
        std::vector<files::added_tree> scans;
        for (const auto& dir : batch.new_dirs) {
            if (st_->ending)
                co_return;
            auto watch_new = [w = &tree_, dir] { return w->add(dir, true); };
            auto added = co_await area_.pool.call(watch_new);
            tree_.adopt(added, false);
            scans.push_back(std::move(added));
        }
        for (const auto& e : batch.events)
            publish(e);
        if (batch.root_gone) {
            st_->root_gone = true;
            st_->poke();
            co_return;
        }
        if (batch.overflowed) {
            // Records were lost, new directories among them: the whole tree is watched again.
            auto again = [w = &tree_] { return w->add(w->root(), false); };
            auto added = co_await area_.pool.call(again);
            tree_.adopt(added, true);
            if (added.error != 0)
                publish_error(added);
        }
        for (const auto& added : scans) {
            for (const auto& e : added.found)
                publish(e);
            if (added.truncated)
                publish({files::change::overflow, {}, false, {}, {}});
            if (added.error != 0)
                publish_error(added);
        }
    }

    const file_watch_routes& area_;
    websocket_connection& conn_;
    std::shared_ptr<watch_state> st_;
    files::tree_watch& tree_;
    asio::posix::stream_descriptor& inotify_;
    stream_viewer::token_watch token_;
};

asio::awaitable<void> run_watch(const file_watch_routes& area, websocket_connection& conn, request& req) {
    using namespace asio::experimental::awaitable_operators;
    auto tree = std::static_pointer_cast<files::tree_watch>(req.upgrade_state);
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<watch_state>(ex);
    std::weak_ptr<watch_state> weak = st;
    stream_viewer::end_at_shutdown(conn, weak);
    {
        // The descriptor is closed when the stream ends, after all three coroutines did.
        asio::posix::stream_descriptor inotify(ex, tree->release_fd());
        watch_stream s(area, conn, st, *tree, inotify, req.auth_token);
        // All at once (asio's awaitable operator, not a short circuit), named apart from the co_await.
        auto all = s.writer() && s.reader() && s.watcher();
        co_await std::move(all);
    }
    conn.on_shutdown = nullptr;
    st->shutdown_timer.cancel();
}

} // namespace

void file_watch_routes::add_to(router& r) const {
    const file_watch_routes& area = *this;
    r.add_websocket(
        "/v0/agents/{agentId}/files/watch",
        [area](websocket_connection& c, request& req) { return run_watch(area, c, req); },
        [area](request& req) { return check_watch(area, req); });
}

} // namespace ag
