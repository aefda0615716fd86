// docs/api.md §18: background processes and streaming exec against the real daemon, real children and a
// socket read with deadlines.
#include "engine/child_ledger.hpp"
#include "support/engine_helpers.hpp"
#include "support/gateway.hpp"
#include "support/ws_client.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using test::gateway;
using test::wait_until;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// An NDJSON response read as it comes: the status, then one line at a time, each wait bounded.
class ndjson_reader {
public:
    ndjson_reader(const gateway& d, const std::string& method, const std::string& target,
                  const std::string& body = {}, const std::string& extra_headers = {}) {
        fd_ = test::connect_loopback(d.port());
        REQUIRE(fd_ >= 0);
        std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                          gateway::token + "\r\n" + extra_headers;
        if (!body.empty() || method == "POST")
            req +=
                "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
        req += "\r\n" + body;
        REQUIRE(::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
        // The head.
        auto until = std::chrono::steady_clock::now() + 10s;
        while (raw_.find("\r\n\r\n") == std::string::npos)
            REQUIRE(fill(until));
        auto end = raw_.find("\r\n\r\n");
        head = raw_.substr(0, end);
        raw_.erase(0, end + 4);
        status = std::stoi(head.substr(9, 3));
    }
    ~ndjson_reader() { close(); }
    ndjson_reader(const ndjson_reader&) = delete;
    ndjson_reader& operator=(const ndjson_reader&) = delete;

    void close() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

    // The next line as JSON; nullopt when the body ended or nothing came within `wait`.
    std::optional<json> next(std::chrono::milliseconds wait = 10s) {
        auto until = std::chrono::steady_clock::now() + wait;
        for (;;) {
            if (auto nl = body_.find('\n'); nl != std::string::npos) {
                auto line = body_.substr(0, nl);
                body_.erase(0, nl + 1);
                return json::parse(line);
            }
            if (ended)
                return std::nullopt;
            if (!decode_chunk(until))
                return std::nullopt;
        }
    }

    // Every line until the body ends (bounded).
    std::vector<json> all(std::chrono::milliseconds wait = 20s) {
        std::vector<json> out;
        auto until = std::chrono::steady_clock::now() + wait;
        while (auto j = next(std::chrono::duration_cast<std::chrono::milliseconds>(
                   until - std::chrono::steady_clock::now()))) {
            out.push_back(*j);
        }
        return out;
    }

    int status = 0;
    std::string head;
    bool ended = false;

private:
    bool fill(std::chrono::steady_clock::time_point until) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            return false;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0)
            return false;
        raw_.append(buf, static_cast<std::size_t>(n));
        return true;
    }
    // One chunk of the chunked body into body_.
    bool decode_chunk(std::chrono::steady_clock::time_point until) {
        for (;;) {
            auto crlf = raw_.find("\r\n");
            if (crlf != std::string::npos) {
                auto size = std::stoul(raw_.substr(0, crlf), nullptr, 16);
                if (size == 0) {
                    ended = true;
                    return true;
                }
                if (raw_.size() >= crlf + 2 + size + 2) {
                    body_ += raw_.substr(crlf + 2, size);
                    raw_.erase(0, crlf + 2 + size + 2);
                    return true;
                }
            }
            if (!fill(until))
                return false;
        }
    }

    int fd_ = -1;
    std::string raw_;
    std::string body_;
};

json start(const gateway& d, json body, int expect = 201) {
    auto r = d.post(d.api("/processes"), body);
    REQUIRE_MESSAGE(r.status == expect, r.body);
    return r.json();
}

json get_info(const gateway& d, const std::string& id) {
    auto r = d.get(d.api("/processes/" + id));
    REQUIRE(r.status == 200);
    return r.json();
}

// Whether one answer of GET …/processes/{id} shows it ended for good. One answer, not one per field: a status
// read before a restart and a restartPending read after it once passed for the end of the last run.
bool ended(const json& info) {
    return info["status"] != "running" && !info["restartPending"].get<bool>();
}

bool ended(const gateway& d, const std::string& id) {
    return ended(get_info(d, id));
}

std::vector<json> output(const gateway& d, const std::string& id, const std::string& query = "") {
    auto r = d.get(d.api("/processes/" + id + "/output" + query));
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "application/x-ndjson");
    std::vector<json> lines;
    std::size_t pos = 0;
    while (pos < r.body.size()) {
        auto nl = r.body.find('\n', pos);
        REQUIRE(nl != std::string::npos);
        lines.push_back(json::parse(r.body.substr(pos, nl - pos)));
        pos = nl + 1;
    }
    return lines;
}

// The bytes of one stream in the lines, in order.
std::string stream_text(const std::vector<json>& lines, const std::string& stream) {
    std::string out;
    for (const auto& l : lines)
        if (l.contains("stream") && l["stream"] == stream)
            out += l["data"].get<std::string>();
    return out;
}

// Offsets count both streams: each output line (all but the last, the exit line) starts where the previous
// one ended.
void check_offsets_follow_on(const std::vector<json>& lines) {
    std::uint64_t next = 0;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        CHECK(lines[i]["offset"] == next);
        next += lines[i]["data"].get<std::string>().size();
    }
}

bool pid_alive(long pid) {
    return ::kill(static_cast<pid_t>(pid), 0) == 0;
}

// Running, not a zombie its new parent has not reaped yet.
bool pid_running(long pid) {
    auto e = ag::engine::read_proc_entry(static_cast<pid_t>(pid));
    return e && !e->zombie;
}

} // namespace

TEST_CASE("processes: start, list, get, output with offsets and the exit line") {
    gateway d;
    auto started = start(d, {{"command", "echo out; echo err >&2; echo $AGENT_ID $FOO; exit 3"},
                             {"name", "demo"},
                             {"env", {{"FOO", "bar"}}}});
    CHECK(started["name"] == "demo");
    CHECK(started["status"] == "running");
    CHECK(started["pid"].is_number_integer());
    CHECK(started["startedAt"].get<std::string>().size() == 24);
    std::string id = started["id"];
    REQUIRE(wait_until([&] { return ended(d, id); }));

    auto info = get_info(d, id);
    CHECK(info["status"] == "failed");
    CHECK(info["exitCode"] == 3);
    CHECK(info["signal"] == 0);
    CHECK(info["oomKilled"] == false);
    CHECK(info["restarts"] == 0);
    CHECK(info["pid"].is_null());
    CHECK(info["endedAt"].is_string());
    CHECK(info["command"] == "echo out; echo err >&2; echo $AGENT_ID $FOO; exit 3");
    CHECK(info["outputBytes"] == 4 + 4 + 10);

    auto list = d.get(d.api("/processes")).json()["processes"];
    REQUIRE(list.size() == 1);
    CHECK(list[0]["id"] == id);

    auto lines = output(d, id);
    REQUIRE(lines.size() >= 3);
    CHECK(stream_text(lines, "stdout") == "out\nlocal bar\n");
    CHECK(stream_text(lines, "stderr") == "err\n");
    check_offsets_follow_on(lines);
    auto exit = lines.back();
    CHECK(exit["type"] == "exit");
    CHECK(exit["exitCode"] == 3);
    CHECK(exit["signal"] == 0);
    CHECK(exit["oomKilled"] == false);
    CHECK(exit["durationMs"].is_number_integer());

    // after= skips what the client has: the rest of the same sequence of bytes.
    std::string combined;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i)
        combined += lines[i]["data"].get<std::string>();
    auto tail = output(d, id, "?after=4");
    REQUIRE(tail.size() >= 2);
    CHECK(tail[0]["offset"] == 4);
    std::string rest;
    for (std::size_t i = 0; i + 1 < tail.size(); ++i)
        rest += tail[i]["data"].get<std::string>();
    CHECK(rest == combined.substr(4));
    CHECK(tail.back()["type"] == "exit");

    // A process in its own process group.
    auto pg = start(d, {{"command", "ps -o pgid= -p $$; echo $$"}})["id"].get<std::string>();
    REQUIRE(wait_until([&] { return ended(d, pg); }));
    std::istringstream in(stream_text(output(d, pg), "stdout"));
    long pgid = 0, pid = 0;
    in >> pgid >> pid;
    CHECK(pgid == pid);
}

TEST_CASE("processes: follow streams output as it comes and ends with the exit line") {
    gateway d;
    std::string id = start(d, {{"command", "read a; echo got $a; read b; echo got $b >&2"}})["id"];
    ndjson_reader follow(d, "GET", d.api("/processes/" + id + "/output?follow=true"));
    CHECK(follow.status == 200);
    // Nothing yet: the follower waits (no line, no end).
    CHECK(!follow.next(300ms));
    CHECK(!follow.ended);

    auto r = d.post(d.api("/processes/" + id + "/input"), {{"data", "one\n"}});
    CHECK(r.status == 200);
    CHECK(r.json()["bytes"] == 4);
    auto l1 = follow.next();
    REQUIRE(l1);
    CHECK((*l1)["offset"] == 0);
    CHECK((*l1)["stream"] == "stdout");
    CHECK((*l1)["data"] == "got one\n");

    CHECK(d.post(d.api("/processes/" + id + "/input"), {{"data", "two\n"}}).status == 200);
    auto l2 = follow.next();
    REQUIRE(l2);
    CHECK((*l2)["offset"] == 8);
    CHECK((*l2)["stream"] == "stderr");
    CHECK((*l2)["data"] == "got two\n");
    auto last = follow.next();
    REQUIRE(last);
    CHECK((*last)["type"] == "exit");
    CHECK((*last)["exitCode"] == 0);
    CHECK(!follow.next());
    CHECK(follow.ended);
    CHECK(get_info(d, id)["status"] == "exited");

    // Input to an ended process is refused.
    CHECK(d.post(d.api("/processes/" + id + "/input"), {{"data", "x"}}).status == 409);
}

TEST_CASE("processes: stdin close, signals and delete") {
    gateway d;
    std::string cat = start(d, {{"command", "cat"}})["id"];
    CHECK(d.post(d.api("/processes/" + cat + "/input"), {{"data", "hello "}}).status == 200);
    CHECK(d.post(d.api("/processes/" + cat + "/input"), {{"data", "world"}, {"close", true}}).status == 200);
    REQUIRE(wait_until([&] { return ended(d, cat); }));
    CHECK(stream_text(output(d, cat), "stdout") == "hello world");
    CHECK(get_info(d, cat)["exitCode"] == 0);

    // A signal reaches the whole group, a trap included.
    std::string trap = start(
        d, {{"command", "trap 'echo usr1; exit 7' USR1; echo ready; while :; do sleep 0.05; done"}})["id"];
    REQUIRE(wait_until([&] { return stream_text(output(d, trap), "stdout") == "ready\n"; }));
    CHECK(d.post(d.api("/processes/" + trap + "/signal"), {{"signal", "USR1"}}).status == 200);
    REQUIRE(wait_until([&] { return ended(d, trap); }));
    CHECK(get_info(d, trap)["exitCode"] == 7);
    CHECK(stream_text(output(d, trap), "stdout") == "ready\nusr1\n");

    std::string sleeper = start(d, {{"command", "sleep 300"}})["id"];
    auto pid = get_info(d, sleeper)["pid"].get<long>();
    CHECK(d.post(d.api("/processes/" + sleeper + "/signal"), {{"signal", "STOP"}}).status == 200);
    CHECK(d.post(d.api("/processes/" + sleeper + "/signal"), {{"signal", "CONT"}}).status == 200);
    CHECK(d.post(d.api("/processes/" + sleeper + "/signal"), {{"signal", "TERM"}}).status == 200);
    REQUIRE(wait_until([&] { return ended(d, sleeper); }));
    auto info = get_info(d, sleeper);
    CHECK(info["status"] == "killed");
    CHECK(info["signal"] == SIGTERM);
    CHECK(info["exitCode"] == 128 + SIGTERM);
    CHECK(wait_until([&] { return !pid_alive(pid); }));
    CHECK(d.post(d.api("/processes/" + sleeper + "/signal"), {{"signal", "TERM"}}).status == 409);

    // Delete ends a running one (TERM) and forgets it.
    std::string doomed = start(d, {{"command", "sleep 300"}})["id"];
    auto doomed_pid = get_info(d, doomed)["pid"].get<long>();
    auto del = d.request("DELETE", d.api("/processes/" + doomed));
    CHECK(del.status == 200);
    CHECK(del.json()["success"] == true);
    CHECK(d.get(d.api("/processes/" + doomed)).status == 404);
    CHECK(wait_until([&] { return !pid_alive(doomed_pid); }));
    CHECK(d.request("DELETE", d.api("/processes/" + doomed)).status == 404);
    // And an ended one.
    CHECK(d.request("DELETE", d.api("/processes/" + cat)).status == 200);
    auto list = d.get(d.api("/processes")).json()["processes"];
    CHECK(list.size() == 2);
}

TEST_CASE("processes: a gap when more than the kept bytes went by") {
    gateway d({"--process-output-bytes", "4096"});
    // 20000 bytes of stdout, in lines of 10.
    std::string id =
        start(d, {{"command", "i=0; while [ $i -lt 2000 ]; do echo 123456789; i=$((i+1)); done"}})["id"];
    REQUIRE(wait_until([&] { return ended(d, id); }));
    CHECK(get_info(d, id)["outputBytes"] == 20000);
    auto lines = output(d, id);
    REQUIRE(lines.size() >= 3);
    CHECK(lines[0]["type"] == "gap");
    CHECK(lines[0]["from"] == 0);
    auto to = lines[0]["to"].get<std::uint64_t>();
    CHECK(to >= 20000 - 4096);
    CHECK(to <= 20000 - 4096 + 512);
    CHECK(lines[1]["offset"] == to);
    auto kept = stream_text(lines, "stdout");
    CHECK(kept.size() == 20000 - to);
    CHECK(lines.back()["type"] == "exit");
    // From inside what is kept: no gap.
    auto later = output(d, id, "?after=" + std::to_string(19990));
    CHECK(later[0]["offset"] == 19990);
    CHECK(later[0]["data"] == "123456789\n");
    // A follower from 0 gets the same gap and the end.
    ndjson_reader follow(d, "GET", d.api("/processes/" + id + "/output?follow=true&after=0"));
    auto first = follow.next();
    REQUIRE(first);
    CHECK((*first)["type"] == "gap");
    auto rest = follow.all();
    REQUIRE(!rest.empty());
    CHECK(rest.back()["type"] == "exit");
}

TEST_CASE("processes: on-failure restarts with backoff, and maxRestarts is honoured") {
    gateway d;
    std::string id =
        start(d, {{"command", "echo run; exit 1"}, {"restart", "on-failure"}, {"maxRestarts", 2}})["id"];
    // Two restarts after 1 s and 2 s of backoff.
    json info;
    REQUIRE(wait_until(
        [&] {
            info = get_info(d, id);
            return info["restarts"] == 2 && ended(info);
        },
        20s));
    CHECK(info["status"] == "failed");
    CHECK(info["exitCode"] == 1);
    auto lines = output(d, id);
    CHECK(stream_text(lines, "stdout") == "run\nrun\nrun\n");
    CHECK(lines.back()["type"] == "exit");

    // on-failure does not restart a success; never does not restart at all.
    std::string ok = start(d, {{"command", "true"}, {"restart", "on-failure"}})["id"];
    REQUIRE(wait_until([&] { return ended(d, ok); }));
    CHECK(get_info(d, ok)["restarts"] == 0);
    CHECK(get_info(d, ok)["status"] == "exited");
}

TEST_CASE("processes: at most 32 running, 404s and 400s") {
    gateway d;
    std::vector<std::string> ids;
    for (int i = 0; i < 32; ++i)
        ids.push_back(start(d, {{"command", "sleep 300"}})["id"]);
    auto over = d.post(d.api("/processes"), {{"command", "sleep 300"}});
    CHECK(over.status == 429);
    CHECK(over.json()["error"].get<std::string>().find("32") != std::string::npos);
    // One ends: there is room again.
    CHECK(d.request("DELETE", d.api("/processes/" + ids.back())).status == 200);
    ids.pop_back();
    ids.push_back(start(d, {{"command", "sleep 300"}})["id"]);

    CHECK(d.get(d.api("/processes/p-nope")).status == 404);
    CHECK(d.get(d.api("/processes/p-nope")).json()["error"] == "Process not found");
    CHECK(d.get(d.api("/processes/p-nope/output")).status == 404);
    CHECK(d.post(d.api("/processes/p-nope/input"), {{"data", "x"}}).status == 404);
    CHECK(d.post(d.api("/processes/p-nope/signal"), {{"signal", "TERM"}}).status == 404);
    CHECK(d.request("DELETE", d.api("/processes/p-nope")).status == 404);

    auto bad = [&](json body, const std::string& message) {
        auto r = d.post(d.api("/processes"), body);
        CHECK(r.status == 400);
        CHECK_MESSAGE(r.json()["error"].get<std::string>().starts_with(message), r.body);
    };
    bad(json::object(), "Invalid command");
    bad({{"command", ""}}, "Invalid command");
    bad({{"command", 7}}, "Invalid command");
    bad({{"command", "true"}, {"cwd", "does/not/exist"}}, "Invalid cwd");
    bad({{"command", "true"}, {"restart", "sometimes"}}, "Invalid restart");
    bad({{"command", "true"}, {"maxRestarts", -1}}, "Invalid maxRestarts");
    bad({{"command", "true"}, {"maxRestarts", "3"}}, "Invalid maxRestarts");
    bad({{"command", "true"}, {"env", {{"A", 1}}}}, "Invalid env");
    bad({{"command", "true"}, {"name", 5}}, "Invalid name");
    auto malformed = d.request("POST", d.api("/processes"), "{nope", {{"Content-Type", "application/json"}});
    CHECK(malformed.status == 400);
    CHECK(malformed.json()["error"].get<std::string>().starts_with("Invalid JSON"));

    const auto& id = ids.front();
    CHECK(d.post(d.api("/processes/" + id + "/signal"), {{"signal", "BOGUS"}}).status == 400);
    CHECK(d.post(d.api("/processes/" + id + "/signal"), json::object()).status == 400);
    CHECK(d.post(d.api("/processes/" + id + "/input"), {{"data", 5}}).status == 400);
    CHECK(d.post(d.api("/processes/" + id + "/input"), json::object()).status == 400);
    CHECK(d.get(d.api("/processes/" + id + "/output?after=x")).status == 400);
    CHECK(d.get(d.api("/processes/" + id + "/output?follow=maybe")).status == 400);
}

TEST_CASE("processes: records survive a daemon restart, and a stop ends the running ones") {
    test::temp_dir root;
    std::string done_id, running_id;
    long running_pid = 0;
    {
        gateway d({}, root.path);
        done_id = start(d, {{"command", "echo kept; exit 4"}, {"name", "kept"}})["id"];
        REQUIRE(wait_until([&] { return ended(d, done_id); }));
        running_id = start(d, {{"command", "echo long; exec sleep 300"}})["id"];
        running_pid = get_info(d, running_id)["pid"].get<long>();
        REQUIRE(wait_until([&] { return get_info(d, running_id)["outputBytes"] == 5; }));
        CHECK(d.stop() == 0);
    }
    CHECK(!pid_alive(running_pid));
    gateway d({}, root.path);
    auto list = d.get(d.api("/processes")).json()["processes"];
    REQUIRE(list.size() == 2);
    auto kept = get_info(d, done_id);
    CHECK(kept["name"] == "kept");
    CHECK(kept["status"] == "failed");
    CHECK(kept["exitCode"] == 4);
    CHECK(kept["outputBytes"] == 5);
    auto lines = output(d, done_id);
    CHECK(stream_text(lines, "stdout") == "kept\n");
    CHECK(lines.back()["type"] == "exit");
    CHECK(lines.back()["exitCode"] == 4);

    auto stopped = get_info(d, running_id);
    CHECK(stopped["status"] == "killed");
    CHECK(stopped["signal"] == SIGTERM);
    CHECK(stream_text(output(d, running_id), "stdout") == "long\n");
}

TEST_CASE("processes: streaming exec sends lines and the exit record") {
    gateway d;
    json body = {{"command", "echo one; echo two >&2; printf 'h\\303\\251'; exit 5"}};
    ndjson_reader r(d, "POST", d.api("/console/exec"), body.dump(), "Accept: application/x-ndjson\r\n");
    CHECK(r.status == 200);
    CHECK(r.head.find("application/x-ndjson") != std::string::npos);
    auto lines = r.all();
    REQUIRE(lines.size() >= 3); // stdout may come in one read
    CHECK(stream_text(lines, "stdout") == "one\nh\xc3\xa9");
    CHECK(stream_text(lines, "stderr") == "two\n");
    check_offsets_follow_on(lines);
    auto exit = lines.back();
    CHECK(exit["type"] == "exit");
    CHECK(exit["exitCode"] == 5);
    CHECK(exit["signal"] == 0);
    CHECK(exit["timedOut"] == false);
    CHECK(exit["oomKilled"] == false);
    CHECK(exit["stdoutBytes"] == 7);
    CHECK(exit["stderrBytes"] == 4);
    CHECK(exit["durationMs"].is_number_integer());
    CHECK(r.ended);

    // ?stream=true does the same; a timeout is told in the exit record.
    json slow = {{"command", "echo start; sleep 30"}, {"timeoutSeconds", 1}};
    ndjson_reader t(d, "POST", d.api("/console/exec?stream=true"), slow.dump());
    auto first = t.next();
    REQUIRE(first);
    CHECK((*first)["data"] == "start\n");
    auto last = t.all();
    REQUIRE(!last.empty());
    CHECK(last.back()["timedOut"] == true);
    CHECK(last.back()["exitCode"] == 124);

    // The JSON answer stays the default.
    auto plain = d.post(d.api("/console/exec"), {{"command", "echo x"}});
    CHECK(plain.header("content-type").starts_with("application/json"));
    CHECK(plain.json()["stdout"] == "x\n");
}

TEST_CASE("processes: closing a streaming exec's connection ends its process group") {
    gateway d;
    json body = {{"command", "sleep 300 & echo $!; echo $$; wait"}};
    long child = 0, shell = 0;
    {
        ndjson_reader r(d, "POST", d.api("/console/exec"), body.dump(), "Accept: application/x-ndjson\r\n");
        REQUIRE(r.status == 200);
        std::string text;
        while (std::count(text.begin(), text.end(), '\n') < 2) {
            auto l = r.next();
            REQUIRE(l);
            text += (*l)["data"].get<std::string>();
        }
        std::istringstream in(text);
        in >> child >> shell;
        REQUIRE(pid_alive(child));
        REQUIRE(pid_alive(shell));
        r.close();
    }
    CHECK(wait_until([&] { return !pid_alive(child) && !pid_alive(shell); }));
    // Its slot is free again: the daemon still answers execs.
    CHECK(d.post(d.api("/console/exec"), {{"command", "echo ok"}}).json()["stdout"] == "ok\n");
}

TEST_CASE("processes: descriptors 0-2 only; after a kill -9 of the daemon the next start ends what it left") {
    test::temp_dir root;
    std::string done_id, running_id;
    long running_pid = 0, child_pid = 0, session_pid = 0, job_pid = 0, engine_pid = 0;
    {
        gateway d({"--engine", "exec sleep 303"}, root.path);
        done_id = start(d, {{"command", "echo kept; exit 4"}})["id"];
        REQUIRE(wait_until([&] { return ended(d, done_id); }));
        // Started while a client's connection is open: neither it nor the daemon's own files are inherited.
        running_id = start(d, {{"command", "env; sleep 301 & echo child=$!; exec sleep 300"}})["id"];
        running_pid = get_info(d, running_id)["pid"].get<long>();
        REQUIRE(wait_until([&] {
            return stream_text(output(d, running_id), "stdout").find("child=") != std::string::npos;
        }));
        CHECK(test::list_dir("/proc/" + std::to_string(running_pid) + "/fd") ==
              std::vector<std::string>{"0", "1", "2"});
        auto env = stream_text(output(d, running_id), "stdout");
        CHECK(env.find("AGENT_GATEWAY_") == std::string::npos);
        CHECK(env.find(gateway::token) == std::string::npos);
        child_pid = std::stol(env.substr(env.find("child=") + 6));
        // A terminal session is a process group (and session) of its own as well; the kernel hangs it up
        // when the daemon's end of the terminal closes, so this one ignores SIGHUP - and says so before the
        // kill, or the hangup could come before the trap. Its shell runs a job in a group of its own (job
        // control), which belongs to the terminal all the same.
        // trap '' HUP; set -m; sleep 304 & set +m; echo job=$!; echo armed; sleep 302
        const std::string command = "trap%20%27%27%20HUP%3B%20set%20-m%3B%20sleep%20304%20%26%20set%20%2Bm%"
                                    "3B%20echo%20job%3D%24%21%3B%20echo%20armed%3B%20sleep%20302";
        test::ws_client pty(d.port(), d.api("/console/pty?command=" + command),
                            {{"Authorization", std::string("Bearer ") + gateway::token}});
        std::string seen;
        while (seen.find("armed") == std::string::npos) {
            auto message = pty.read();
            REQUIRE(message);
            seen += *message;
        }
        job_pid = std::stol(seen.substr(seen.find("job=") + 4));
        auto job = ag::engine::read_proc_entry(static_cast<pid_t>(job_pid));
        REQUIRE(job);
        CHECK(job->pgid == job_pid);
        auto sessions = d.get(d.api("/console/sessions")).json()["sessions"];
        REQUIRE(sessions.size() == 1);
        session_pid = sessions[0]["pid"].get<long>();
        REQUIRE(wait_until([&] { return d.get("/v0/agents/local").json()["processId"].is_string(); }));
        engine_pid = std::stol(d.get("/v0/agents/local").json()["processId"].get<std::string>());
        d.stop(SIGKILL);
    }
    // No stop ran: what the daemon started outlives it (the engine would keep its port)...
    CHECK(pid_running(running_pid));
    CHECK(pid_running(child_pid));
    CHECK(pid_running(session_pid));
    CHECK(pid_running(job_pid));
    CHECK(pid_running(engine_pid));
    // ...until the next start on the same state, which ends it before it starts anything.
    gateway d({}, root.path);
    CHECK(wait_until([&] { return !pid_running(running_pid) && !pid_running(child_pid); }));
    CHECK(wait_until([&] { return !pid_running(session_pid) && !pid_running(engine_pid); }));
    CHECK(wait_until([&] { return !pid_running(job_pid); }));
    CHECK_MESSAGE(d.log().find("killed 4 process groups that an earlier run left running") !=
                      std::string::npos,
                  d.log());
    // The records file is whole (written atomically) and no temp file is left beside it after the next start.
    auto kept = get_info(d, done_id);
    CHECK(kept["exitCode"] == 4);
    CHECK(stream_text(output(d, done_id), "stdout") == "kept\n");
    CHECK(get_info(d, running_id)["status"] == "killed"); // it was running when the daemon died
    for (const auto& name : test::list_dir(root.path + "/.agent-gateway/processes"))
        CHECK_MESSAGE(name.find(".tmp") == std::string::npos, name);
}
