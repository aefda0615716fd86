// docs/api.md §17: terminal sessions against the real daemon, real shells and a real WebSocket client.
#include "support/engine_helpers.hpp"
#include "support/gateway.hpp"
#include "support/ws_client.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <memory>
#include <optional>
#include <sstream>

using test::gateway;
using test::wait_until;
using test::ws_client;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const test::header_list bearer{{"Authorization", std::string("Bearer ") + gateway::token}};

std::string enc(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/')
            out += static_cast<char>(c);
        else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

// One viewer: the session frame, then output bytes and control messages as they come.
struct term {
    std::unique_ptr<ws_client> c;
    std::string id;
    std::uint64_t offset = 0; // where this viewer's stream starts
    std::string data;         // binary frames, in order
    std::vector<json> texts;  // gap, exit, error
    std::optional<json> exit;

    term(const gateway& d, const std::string& query) {
        c = std::make_unique<ws_client>(d.port(), d.api("/console/pty") + query, bearer);
        auto m = c->read();
        REQUIRE(m);
        auto j = json::parse(*m);
        REQUIRE(j["type"] == "session");
        id = j["id"].get<std::string>();
        offset = j["offset"].get<std::uint64_t>();
    }
    std::uint64_t position() const { return offset + data.size() + skipped; }
    std::uint64_t skipped = 0;

    // One message; false when the stream ended or nothing came in time.
    bool pump(std::chrono::milliseconds wait) {
        auto m = c->read(wait);
        if (!m)
            return false;
        if (c->last_binary()) {
            data += *m;
            return true;
        }
        auto j = json::parse(*m);
        texts.push_back(j);
        if (j["type"] == "exit")
            exit = j;
        if (j["type"] == "gap")
            skipped += j["to"].get<std::uint64_t>() - j["from"].get<std::uint64_t>();
        return true;
    }
    bool read_until(const std::string& needle, std::chrono::milliseconds wait = 20s) {
        auto end = std::chrono::steady_clock::now() + wait;
        while (data.find(needle) == std::string::npos) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left <= 0ms || !pump(left)) {
                MESSAGE("waited for " << json(needle).dump() << ", got " << json(data).dump() << " close "
                                      << c->close_code());
                return false;
            }
        }
        return true;
    }
    // Until `bytes` of output came (both viewers of a session see the same bytes, not at the same moment).
    bool read_at_least(std::size_t bytes, std::chrono::milliseconds wait = 20s) {
        auto end = std::chrono::steady_clock::now() + wait;
        while (data.size() < bytes) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left <= 0ms || !pump(left))
                return false;
        }
        return true;
    }
    bool read_until_exit(std::chrono::milliseconds wait = 20s) {
        auto end = std::chrono::steady_clock::now() + wait;
        while (!exit) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left <= 0ms || !pump(left))
                return false;
        }
        return true;
    }
    void type(const std::string& keys) { REQUIRE(c->send_binary(keys)); }
};

json sessions(const gateway& d) {
    auto r = d.get(d.api("/console/sessions"));
    REQUIRE(r.status == 200);
    return r.json()["sessions"];
}

std::optional<json> session_info(const gateway& d, const std::string& id) {
    for (auto& s : sessions(d))
        if (s["id"] == id)
            return s;
    return std::nullopt;
}

// Whether a `sleep` runs in the terminal session `sid` (from /proc/PID/stat: comm, then field 6 is the
// session).
bool sleep_in_session(pid_t sid) {
    for (const auto& name : test::list_dir("/proc")) {
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
            continue;
        std::string stat;
        try {
            stat = test::read_file("/proc/" + name + "/stat");
        } catch (const std::exception&) {
            continue;
        }
        auto close = stat.rfind(')');
        if (close == std::string::npos || stat.find("(sleep)") == std::string::npos)
            continue;
        std::istringstream rest(stat.substr(close + 2));
        std::string state;
        long ppid = 0, pgrp = 0, session = 0;
        rest >> state >> ppid >> pgrp >> session;
        if (session == sid)
            return true;
    }
    return false;
}

// A plain shell with a known prompt, whoever runs the tests.
const std::string sh_query = "?command=" + enc("env PS1='$ ' /bin/sh");

} // namespace

TEST_CASE("terminal: type, resize, signal, exit") {
    gateway d;
    term t(d, "?cols=90&rows=30");
    CHECK(t.offset == 0);
    t.type("stty size\r");
    CHECK(t.read_until("30 90\r\n"));
    t.type("echo h''i\r");
    CHECK(t.read_until("hi\r\n"));
    REQUIRE(t.c->send(R"({"type":"resize","cols":100,"rows":40})"));
    t.type("stty size\r");
    CHECK(t.read_until("40 100\r\n"));
    auto info = session_info(d, t.id);
    REQUIRE(info);
    CHECK((*info)["cols"] == 100);
    CHECK((*info)["rows"] == 40);
    CHECK((*info)["attached"] == 1);
    CHECK((*info)["exited"] == false);
    CHECK((*info)["exitCode"].is_null());
    CHECK((*info)["pid"].get<int>() > 0);
    CHECK(!(*info)["command"].get<std::string>().empty());

    // INT goes to the foreground job: the sleep ends, the shell stays.
    t.type("sleep 100\r");
    pid_t sid = (*info)["pid"].get<pid_t>();
    REQUIRE(wait_until([&] { return sleep_in_session(sid); }, 10s));
    REQUIRE(t.c->send(R"({"type":"signal","signal":"INT"})"));
    t.type("echo after-s''leep $?\r");
    CHECK(t.read_until("after-sleep 130", 10s));

    // A bad control message gets an error frame; the terminal goes on.
    REQUIRE(t.c->send(R"({"type":"dance"})"));
    REQUIRE(t.c->send("not json"));
    t.type("echo st''ill\r");
    CHECK(t.read_until("still\r\n"));
    int errors = 0;
    for (auto& j : t.texts)
        errors += j["type"] == "error";
    CHECK(errors == 2);

    t.type("exit 3\r");
    REQUIRE(t.read_until_exit());
    CHECK((*t.exit)["exitCode"] == 3);
    CHECK((*t.exit)["signal"] == 0);
    CHECK(!t.pump(5s));
    CHECK(t.c->close_code() == 1000);
}

TEST_CASE("terminal: reconnect with after= loses nothing; two viewers") {
    gateway d;
    term a(d, sh_query);
    REQUIRE(a.read_until("$ "));
    term b(d, "?session=" + a.id);
    CHECK(b.id == a.id);
    CHECK(b.offset == 0);        // the whole kept output is replayed
    REQUIRE(b.read_until("$ ")); // nothing typed yet: b sees the prompt too
    std::uint64_t n = a.position();
    a.c->close();
    a.c.reset();
    // b types, and the output comes while a is away.
    b.type("seq 10000; echo E''ND\r");
    REQUIRE(b.read_until("\r\nEND\r\n"));
    std::string expected;
    for (int i = 1; i <= 10000; ++i)
        expected += std::to_string(i) + "\r\n";
    CHECK(b.data.find("\r\n" + expected + "END\r\n") != std::string::npos);

    term a2(d, "?session=" + a.id + "&after=" + std::to_string(n));
    CHECK(a2.offset == n);
    REQUIRE(a2.read_until("\r\nEND\r\n"));
    CHECK(a2.skipped == 0);
    // Exactly the bytes b saw from the same position (a2 may have got the next prompt before b did).
    REQUIRE(b.read_at_least(n + a2.data.size()));
    CHECK(a2.data == b.data.substr(n, a2.data.size()));

    // Either may type; both see it.
    a2.type("echo from-a''2\r");
    CHECK(a2.read_until("from-a2\r\n"));
    CHECK(b.read_until("from-a2\r\n"));
    CHECK(session_info(d, a.id).value()["attached"] == 2);
}

TEST_CASE("terminal: a gap marker when more than 1 MiB went by") {
    gateway d;
    term a(d, sh_query);
    REQUIRE(a.read_until("$ "));
    std::uint64_t n = a.position();
    a.type("head -c 1500000 /dev/zero | tr '\\0' x; echo; echo E''ND\r");
    a.c->close();
    a.c.reset();
    // Deadline-polled: the session's offset passes 1.5 MB while nobody watches.
    REQUIRE(wait_until(
        [&] { return session_info(d, a.id).value()["offset"].get<std::uint64_t>() > n + 1500000; }, 20s));
    term a2(d, "?session=" + a.id + "&after=" + std::to_string(n));
    CHECK(a2.offset == n);
    REQUIRE(a2.read_until("\r\nEND\r\n"));
    REQUIRE(!a2.texts.empty());
    auto gap = a2.texts.front();
    CHECK(gap["type"] == "gap");
    CHECK(gap["from"] == n);
    CHECK(gap["to"].get<std::uint64_t>() > n);
    // What is kept is the last 1 MiB, no more.
    CHECK(a2.data.size() <= 1024 * 1024 + 4096);
}

TEST_CASE("terminal: list, delete, at most 16, unknown session") {
    gateway d;
    CHECK(sessions(d).empty());
    std::vector<std::string> ids;
    for (int i = 0; i < 16; ++i) {
        term t(d, sh_query);
        ids.push_back(t.id);
    }
    CHECK(sessions(d).size() == 16);
    CHECK(test::ws_upgrade_status(d.port(), d.api("/console/pty" + sh_query), bearer) == 429);
    CHECK(test::ws_upgrade_status(d.port(), d.api("/console/pty?session=nope"), bearer) == 404);
    CHECK(test::ws_upgrade_status(d.port(), d.api("/console/pty?cols=0"), bearer) == 400);
    CHECK(test::ws_upgrade_status(d.port(), d.api("/console/pty?cwd=no%2Fsuch"), bearer) == 400);
    CHECK(test::ws_upgrade_status(d.port(), d.api("/console/pty"), {}) == 401);

    auto first = session_info(d, ids[0]).value();
    pid_t pid = first["pid"].get<pid_t>();
    CHECK(first["attached"] == 0);
    CHECK(first["createdAt"].get<std::string>().size() == 24);
    auto r = d.request("DELETE", d.api("/console/sessions/" + ids[0]));
    CHECK(r.status == 200);
    CHECK(d.request("DELETE", d.api("/console/sessions/" + ids[0])).status == 404);
    CHECK(!session_info(d, ids[0]));
    CHECK(wait_until([&] { return ::kill(pid, 0) != 0; }, 10s));
    term again(d, sh_query);
    CHECK(sessions(d).size() == 16);
}

TEST_CASE("terminal: sessions nobody watches end after --pty-idle-timeout") {
    gateway d({"--pty-idle-timeout", "1"});
    std::string id;
    pid_t pid = -1;
    {
        term t(d, sh_query);
        id = t.id;
        pid = session_info(d, id).value()["pid"].get<pid_t>();
        // Attached, it stays past the timeout.
        CHECK(!wait_until([&] { return !session_info(d, id); }, 2500ms));
    }
    CHECK(wait_until([&] { return !session_info(d, id); }, 10s));
    CHECK(wait_until([&] { return ::kill(pid, 0) != 0; }, 10s));
}

TEST_CASE("terminal: the child inherits no descriptor and no AGENT_GATEWAY_ setting") {
    gateway d({}, {}, {}, {"AGENT_GATEWAY_EXEC_TIMEOUT=30"});
    term t(d, "?command=" + enc("ls -l /proc/self/fd/; env; echo E''ND"));
    REQUIRE(t.read_until_exit());
    CHECK(t.data.find("\r\nEND\r\n") != std::string::npos);
    CHECK(t.data.find("AGENT_GATEWAY_") == std::string::npos);
    CHECK(t.data.find("TERM=xterm-256color") != std::string::npos);
    CHECK(t.data.find("AGENT_ID=local") != std::string::npos);
    std::istringstream lines(t.data);
    int fds = 0;
    for (std::string line; std::getline(lines, line);) {
        auto arrow = line.find(" -> ");
        if (arrow == std::string::npos)
            continue;
        auto name_start = line.rfind(' ', arrow - 1);
        int fd = std::stoi(line.substr(name_start + 1, arrow - name_start - 1));
        std::string target = line.substr(arrow + 4);
        if (!target.empty() && target.back() == '\r')
            target.pop_back();
        ++fds;
        if (fd <= 2)
            CHECK(target.starts_with("/dev/pts/"));
        else
            CHECK(target.starts_with("/proc/")); // ls's own listing of the directory
    }
    CHECK(fds >= 3);
}
