// Terminal sessions (docs/api.md §17): the WebSocket at …/console/pty, the list, and the end of a session.
//
// Each viewer reads the session's ring from its own position: one writer sends what is there (a gap first
// when the ring has moved past it), then waits to be woken; one reader passes keystrokes, resizes and signals
// on. A viewer that stops reading holds at most one chunk besides the ring every viewer shares.
#include "handlers/routes.hpp"

#include "auth/token_store.hpp"
#include "config/daemon_config.hpp"
#include "engine/child_reaper.hpp"
#include "engine/pty_session.hpp"
#include "gateway/errors.hpp"
#include "gateway/router.hpp"
#include "gateway/websocket_session.hpp"
#include "handlers/stream_viewer.hpp"
#include "runtime/net.hpp"
#include "runtime/use_tuple.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <pwd.h>
#include <unistd.h>

#include <csignal>
#include <system_error>

namespace ag {
namespace {

using namespace std::chrono_literals;
constexpr std::size_t send_chunk = 64 * 1024;
constexpr unsigned max_dimension = 1000;

// The daemon user's login shell, else /bin/sh.
std::string login_shell() {
    std::string buf(16384, '\0');
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_shell &&
        found->pw_shell[0] == '/' && ::access(found->pw_shell, X_OK) == 0)
        return found->pw_shell;
    return "/bin/sh";
}

unsigned short dimension(const request& req, std::string_view name, unsigned short fallback) {
    auto v = text::find_param(req.query, name);
    if (!v || v->empty())
        return fallback;
    auto n = text::parse_u64(*v);
    if (!n || *n < 1 || *n > max_dimension)
        bad_request(fmt::format("Invalid {}: must be an integer from 1 to {}", name, max_dimension));
    return static_cast<unsigned short>(*n);
}

std::optional<int> terminal_signal(std::string_view name) {
    if (name == "INT")
        return SIGINT;
    if (name == "TERM")
        return SIGTERM;
    if (name == "HUP")
        return SIGHUP;
    if (name == "KILL")
        return SIGKILL;
    return std::nullopt;
}

// One attach of a session, from the check before the upgrade to the end of its WebSocket (or of a refused
// handshake).
struct attachment {
    attachment(const attachment&) = delete;
    attachment& operator=(const attachment&) = delete;
    explicit attachment(std::shared_ptr<engine::pty_session> s)
        : session(std::move(s)) {}
    ~attachment() { session->detach(); }
    std::shared_ptr<engine::pty_session> session;
    std::optional<std::uint64_t> after;
};

asio::awaitable<std::optional<response>> check_pty(const terminal_routes& area, request& req) {
    std::optional<std::uint64_t> after;
    if (auto v = text::find_param(req.query, "after"); v && !v->empty()) {
        after = text::parse_u64(*v);
        if (!after)
            bad_request("Invalid after: must be a non-negative integer");
    }
    std::shared_ptr<engine::pty_session> session;
    if (auto id = text::find_param(req.query, "session"); id && !id->empty()) {
        session = area.sessions.attach(*id);
        if (!session)
            throw api_error(error_kind::not_found, "Session not found");
    } else {
        engine::pty_options o;
        auto command = text::find_param(req.query, "command");
        o.command = command && !command->empty() ? std::string(*command) : login_shell();
        if (o.command.find('\0') != std::string::npos)
            bad_request("Invalid command");
        auto cwd = text::find_param(req.query, "cwd");
        o.cwd = console_cwd(area.cfg, cwd ? *cwd : std::string_view{});
        o.cols = dimension(req, "cols", 80);
        o.rows = dimension(req, "rows", 24);
        o.env = engine::environment_with({{"AGENT_ID", area.cfg.agent_id}, {"TERM", "xterm-256color"}});
        try {
            session = area.sessions.start(std::move(o));
        } catch (const std::system_error& e) {
            log::error("terminal: cannot start a session: {}", e.what());
            throw api_error(error_kind::internal, "Cannot start a terminal session");
        }
        if (!session)
            throw api_error(error_kind::rate_limited, "Too many terminal sessions (at most 16)");
    }
    auto a = std::make_shared<attachment>(std::move(session));
    a->after = after;
    req.upgrade_state = std::move(a);
    co_return std::nullopt;
}

// Shared by the writer, the reader, the session's wake-ups and the shutdown hook; on the viewer's thread.
struct viewer_state : stream_viewer::state_base {
    using state_base::state_base;
    std::vector<std::string> notices; // error frames for bad client messages, sent by the writer
};

std::string error_notice(std::string_view message) {
    return nlohmann::json{{"type", "error"}, {"message", message}}.dump();
}

class viewer {
public:
    viewer(const terminal_routes& area, websocket_connection& conn, std::shared_ptr<viewer_state> st,
           engine::pty_session& session, std::string token)
        : conn_(conn)
        , st_(std::move(st))
        , session_(session)
        , token_(area.tokens, std::move(token)) {}

    asio::awaitable<void> writer(std::uint64_t cursor) {
        for (;;) {
            auto end = co_await stream_viewer::ending(conn_, *st_, token_);
            if (end)
                break;
            if (!st_->notices.empty()) {
                auto notice = std::move(st_->notices.front());
                st_->notices.erase(st_->notices.begin());
                auto ec = co_await conn_.send_text(notice);
                if (ec)
                    break;
                continue;
            }
            auto got = session_.read(cursor, send_chunk);
            if (got.gap_to) {
                auto gap = nlohmann::json{{"type", "gap"}, {"from", cursor}, {"to", *got.gap_to}}.dump();
                cursor = *got.gap_to;
                auto ec = co_await conn_.send_text(gap);
                if (ec)
                    break;
            }
            if (!got.data.empty()) {
                cursor += got.data.size();
                auto ec = co_await conn_.send_binary(got.data);
                if (ec)
                    break;
                continue;
            }
            if (got.ended) {
                auto i = session_.info();
                auto bye = nlohmann::json{
                    {"type", "exit"}, {"exitCode", i.exit_code.value_or(0)}, {"signal", i.signal}};
                auto ec = co_await conn_.send_text(bye.dump());
                if (!ec)
                    co_await conn_.close(1000, "");
                break;
            }
            st_->wake.expires_after(stream_viewer::token_check_every);
            co_await st_->wake.async_wait(use_tuple);
        }
        conn_.abort(); // ends the reader, if the close did not
    }

    asio::awaitable<void> reader() {
        for (;;) {
            auto [ec, message] = co_await conn_.read_message();
            if (ec)
                break;
            if (conn_.last_was_binary()) {
                session_.write_input(std::move(message));
                continue;
            }
            if (auto problem = control(message); !problem.empty()) {
                // A bounded queue: a client that keeps sending nonsense faster than it reads loses notices.
                if (st_->notices.size() < 16)
                    st_->notices.push_back(error_notice(problem));
                st_->poke();
            }
        }
        st_->peer_gone = true;
        st_->poke();
    }

private:
    // A text frame: resize or signal. Returns what is wrong with it, empty when it was done.
    std::string control(std::string_view text) {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
            return "Invalid message: expected a JSON object with a type";
        const auto type = j["type"].get<std::string>();
        if (type == "resize") {
            auto size = [&j](const char* key) -> std::optional<unsigned short> {
                auto it = j.find(key);
                if (it == j.end() || !it->is_number_integer())
                    return std::nullopt;
                auto v = it->get<std::int64_t>();
                if (v < 1 || v > max_dimension)
                    return std::nullopt;
                return static_cast<unsigned short>(v);
            };
            auto cols = size("cols");
            auto rows = size("rows");
            if (!cols || !rows)
                return "Invalid resize: cols and rows must be integers from 1 to 1000";
            session_.resize(*cols, *rows);
            return {};
        }
        if (type == "signal") {
            auto it = j.find("signal");
            std::optional<int> sig;
            if (it != j.end() && it->is_string())
                sig = terminal_signal(it->get<std::string>());
            if (!sig)
                return "Invalid signal: use INT, TERM, HUP or KILL";
            session_.signal(*sig);
            return {};
        }
        return "Invalid message type: use resize or signal (keystrokes go in binary frames)";
    }

    websocket_connection& conn_;
    std::shared_ptr<viewer_state> st_;
    engine::pty_session& session_;
    stream_viewer::token_watch token_;
};

asio::awaitable<void> run_pty(const terminal_routes& area, websocket_connection& conn, request& req) {
    using namespace asio::experimental::awaitable_operators;
    auto a = std::static_pointer_cast<attachment>(req.upgrade_state);
    auto& session = *a->session;
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<viewer_state>(ex);
    std::weak_ptr<viewer_state> weak = st;
    auto token = session.subscribe(stream_viewer::waker(weak, ex));
    stream_viewer::end_at_shutdown(conn, weak);
    // Where this viewer starts: after=N (past the end: the end), else the oldest byte kept.
    std::uint64_t cursor = a->after ? std::min(*a->after, session.end_offset()) : session.start_offset();
    auto hello = nlohmann::json{{"type", "session"}, {"id", session.id()}, {"offset", cursor}}.dump();
    auto ec = co_await conn.send_text(hello);
    if (!ec) {
        viewer v(area, conn, st, session, req.auth_token);
        // Both at once (asio's awaitable operator, not a short circuit), named apart from the co_await.
        auto both = v.writer(cursor) && v.reader();
        co_await std::move(both);
    }
    session.unsubscribe(token);
    conn.on_shutdown = nullptr;
    st->shutdown_timer.cancel();
}

nlohmann::json to_json(const engine::pty_info& i) {
    return {{"id", i.id},
            {"command", i.command},
            {"pid", i.pid},
            {"cols", i.cols},
            {"rows", i.rows},
            {"createdAt", i.created_at},
            {"attached", i.attached},
            {"offset", i.offset},
            {"exited", i.exited},
            {"exitCode", i.exit_code ? nlohmann::json(*i.exit_code) : nlohmann::json(nullptr)}};
}

asio::awaitable<response> list_sessions(const terminal_routes& area, request&) {
    auto all = nlohmann::json::array();
    for (const auto& i : area.sessions.list())
        all.push_back(to_json(i));
    co_return json_response({{"sessions", std::move(all)}});
}

asio::awaitable<response> delete_session(const terminal_routes& area, request& req) {
    std::string id(req.param("id"));
    if (!area.sessions.end(id))
        throw api_error(error_kind::not_found, "Session not found");
    co_return json_response({{"success", true}, {"id", id}});
}

} // namespace

void terminal_routes::add_to(router& r) const {
    const terminal_routes& area = *this;
    r.add_websocket(
        "/v0/agents/{agentId}/console/pty",
        [area](websocket_connection& c, request& req) { return run_pty(area, c, req); },
        [area](request& req) { return check_pty(area, req); });
    r.add(method::get, "/v0/agents/{agentId}/console/sessions",
          [area](request& req) { return list_sessions(area, req); });
    r.add(method::delete_, "/v0/agents/{agentId}/console/sessions/{id}",
          [area](request& req) { return delete_session(area, req); });
}

} // namespace ag
