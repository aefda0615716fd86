#!/usr/bin/env python3
"""Proxy differential test (docs/api.md §4, §11): many concurrent clients through the daemon's keep-alive pool
to real services (Python's http.server and Node's http, both HTTP/1.1 keep-alive), every request with a unique
id, in every shape the front door must re-frame exactly: sized, chunked and empty bodies, pipelining,
100-continue, early closes, abandoned bodies, upgrades with a body (400) and smuggling attempts. Every answer
must be its own request's: the id, the body's length and hash. Any answer that belongs to another request
fails the run.

  differential.py AGENT_GATEWAY_BINARY [CLIENTS] [REQUESTS_PER_CLIENT]
"""
import hashlib
import json
import os
import random
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "differential-token-0123456789"


def start(cmd, **kw):
    # Their tracebacks for clients that went mid-answer (the early closes) are expected noise.
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         **kw)
    port = int(p.stdout.readline())
    return p, port


def start_daemon(binary, root):
    err = open(os.path.join(root, "daemon.log"), "w+")
    p = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--root", root, "--token", TOKEN], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=err)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        err.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", err.read())
        if m:
            return p, int(m.group(1)), err
        if p.poll() is not None:
            err.seek(0)
            sys.exit("daemon exited at start: " + err.read())
        time.sleep(0.02)
    sys.exit("daemon did not start")


class Conn:
    """One client connection with a reader of whole HTTP/1.1 answers; every read is bounded."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _more(self):
        r, _, _ = select.select([self.s], [], [], 30)
        if not r:
            raise TimeoutError("no answer within 30 s")
        piece = self.s.recv(65536)
        if not piece:
            raise EOFError("closed")
        self.buf += piece

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def answer(self):
        """(status, headers, body) of the next final answer; interim 1xx answers are skipped."""
        while True:
            status = int(self._line().split()[1])
            headers = {}
            while True:
                line = self._line()
                if not line:
                    break
                k, v = line.split(b":", 1)
                headers[k.strip().lower().decode()] = v.strip().decode()
            if 100 <= status < 200 and status != 101:
                continue
            break
        if "content-length" in headers:
            body = self._exact(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._exact(size)
                self._exact(2)
        else:
            body = b""
        return status, headers, body

    def closed(self):
        """Whether the server closed the connection (bounded)."""
        try:
            while True:
                self._more()
        except EOFError:
            return True
        except (TimeoutError, OSError):
            return False

    def close(self):
        self.s.close()


failures = []
counts = {"checked": 0}
lock = threading.Lock()


def fail(msg):
    with lock:
        failures.append(msg)


def check(rid, status, body, want_len, want_sha, want_status=200):
    with lock:
        counts["checked"] += 1
    if status != want_status:
        return fail(f"{rid}: status {status}, wanted {want_status}: {body[:200]!r}")
    if want_status != 200:
        return
    try:
        j = json.loads(body)
    except ValueError:
        return fail(f"{rid}: not JSON: {body[:200]!r}")
    target = j.get("target", "")
    if f"id={rid}" not in target.split("?", 1)[-1].split("&"):
        return fail(f"{rid}: got the answer to {target!r}")
    if j.get("bodyLength") != want_len or j.get("bodySha256") != want_sha:
        return fail(f"{rid}: body {j.get('bodyLength')} bytes, wanted {want_len}")


def head(method, path, rid, extra=""):
    return f"{method} {path}?id={rid} HTTP/1.1\r\nHost: app.local\r\n{extra}".encode()


def client(port, prefixes, n, seed):
    rnd = random.Random(seed)
    conn = Conn(port)
    for i in range(n):
        rid = f"c{seed}r{i}"
        prefix = rnd.choice(prefixes)
        kind = rnd.choice(["get", "sized", "chunked", "empty-post", "pipelined", "continue", "early-close",
                           "abandoned", "upgrade-body", "smuggle-cl", "head"])
        body = os.urandom(rnd.choice([0, 1, 100, 5000, 70000]))
        sha = hashlib.sha256(body).hexdigest()
        try:
            if kind == "get":
                conn.send(head("GET", prefix + "/echo", rid) + b"\r\n")
                s, _, b = conn.answer()
                check(rid, s, b, 0, hashlib.sha256(b"").hexdigest())
            elif kind == "head":
                conn.send(head("HEAD", prefix + "/echo", rid) + b"\r\n")
                # A HEAD answer has a length but no body: read its head only.
                status = int(conn._line().split()[1])
                while conn._line():
                    pass
                with lock:
                    counts["checked"] += 1
                if status != 200:
                    fail(f"{rid}: HEAD status {status}")
            elif kind == "sized":
                conn.send(head("POST", prefix + "/echo", rid, f"Content-Length: {len(body)}\r\n") + b"\r\n" + body)
                s, _, b = conn.answer()
                check(rid, s, b, len(body), sha)
            elif kind == "chunked":
                pieces = b""
                at = 0
                while at < len(body):
                    n_ = rnd.randint(1, 9000)
                    part = body[at:at + n_]
                    pieces += b"%x\r\n" % len(part) + part + b"\r\n"
                    at += n_
                conn.send(head("POST", prefix + "/echo", rid, "Transfer-Encoding: chunked\r\n") + b"\r\n" + pieces + b"0\r\n\r\n")
                s, _, b = conn.answer()
                check(rid, s, b, len(body), sha)
            elif kind == "empty-post":
                conn.send(head("POST", prefix + "/echo", rid, "Content-Length: 0\r\n") + b"\r\n")
                s, _, b = conn.answer()
                check(rid, s, b, 0, hashlib.sha256(b"").hexdigest())
            elif kind == "pipelined":
                r2 = rid + "p"
                conn.send(head("POST", prefix + "/echo", rid, f"Content-Length: {len(body)}\r\n") + b"\r\n" + body +
                          head("GET", prefix + "/echo", r2) + b"\r\n")
                s, _, b = conn.answer()
                check(rid, s, b, len(body), sha)
                s, _, b = conn.answer()
                check(r2, s, b, 0, hashlib.sha256(b"").hexdigest())
            elif kind == "continue":
                conn.send(head("POST", prefix + "/echo", rid, f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n") + b"\r\n")
                conn.send(body)
                s, _, b = conn.answer()
                check(rid, s, b, len(body), sha)
            elif kind == "early-close":
                # Half a body, then the client goes: nothing may leak to anyone else.
                conn.send(head("POST", prefix + "/echo", rid, f"Content-Length: {len(body) + 10}\r\n") + b"\r\n" + body[: len(body) // 2])
                conn.close()
                conn = Conn(port)
            elif kind == "abandoned":
                conn.send(head("POST", prefix + "/echo", rid, "Content-Length: 100000\r\n") + b"\r\n")
                conn.close()
                conn = Conn(port)
            elif kind == "upgrade-body":
                hidden = head("GET", prefix + "/echo", rid + "hidden") + b"\r\n"
                conn.send(head("GET", prefix + "/echo", rid,
                               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               f"Sec-WebSocket-Version: 13\r\nContent-Length: {len(hidden)}\r\n") + b"\r\n" + hidden)
                s, _, b = conn.answer()
                check(rid, s, b, 0, "", want_status=400)
                conn.close()
                conn = Conn(port)
            elif kind == "smuggle-cl":
                # A sized body that looks like a request: it is a body, and stays one.
                inner = head("GET", prefix + "/echo", rid + "inner") + b"\r\n"
                conn.send(head("POST", prefix + "/echo", rid, f"Content-Length: {len(inner)}\r\n") + b"\r\n" + inner)
                s, _, b = conn.answer()
                check(rid, s, b, len(inner), hashlib.sha256(inner).hexdigest())
        except (EOFError, TimeoutError, OSError, ValueError, IndexError) as e:
            fail(f"{rid} ({kind}): {type(e).__name__}: {e}")
            conn.close()
            conn = Conn(port)
    conn.close()


def main():
    binary = sys.argv[1]
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    per_client = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    root = tempfile.mkdtemp(prefix="agw-differential-")
    py, py_port = start([sys.executable, os.path.join(HERE, "..", "support", "upstream.py")])
    node, node_port = start(["node", os.path.join(HERE, "node_upstream.mjs")])
    daemon, port, log = start_daemon(binary, root)
    try:
        c = Conn(port)
        routes = {"mappings": [{"port": py_port, "pathPrefix": "/py", "protected": False},
                               {"port": node_port, "pathPrefix": "/node", "protected": False}]}
        body = json.dumps(routes).encode()
        c.send(b"PUT /v0/agents/local/port-forwarding HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
               b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        status, _, answer = c.answer()
        c.close()
        if status != 200:
            sys.exit(f"could not set the routes: {status} {answer!r}")
        threads = [threading.Thread(target=client, args=(port, ["/py", "/node"], per_client, seed))
                   for seed in range(clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        hung = sum(t.is_alive() for t in threads)
        if hung:
            fail(f"{hung} clients did not finish within 600 s")
        took = time.monotonic() - started
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
        for p in (py, node):
            p.stdin.close()
            p.wait(timeout=10)
    for f in failures[:30]:
        print("FAIL", f)
    checked = counts["checked"]
    print(f"differential: {clients} clients x {per_client} requests through one pool to Python and Node "
          f"in {took:.1f} s")
    print(f"{checked - len(failures)} passed, {len(failures)} failed")
    log.seek(0)
    crashed = [l for l in log.read().splitlines() if "ERROR" in l or "AddressSanitizer" in l or "runtime error" in l]
    for l in crashed[:10]:
        print("daemon:", l)
    sys.exit(1 if failures or crashed else 0)


if __name__ == "__main__":
    main()
