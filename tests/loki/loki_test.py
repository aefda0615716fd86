#!/usr/bin/env python3
"""Shipping the log journal to Loki (docs/api.md §7), end to end: the real daemon with --loki-url, entries
made through --engine-log, read back through Loki's query_range API. Loki is started once for the whole run
on a free loopback port.

usage: loki_test.py AGENT_GATEWAY_BINARY real|stub

real: Grafana Loki (LOKI_BIN, else `loki` on PATH, when it says it is Grafana Loki); exits 77 (skipped) when
      there is none. Debian's `loki` package is an unrelated genetics program, so this is the usual case.
stub: tests/loki/stub_loki.py, which checks pushes as Loki does and can also refuse (400) or fail (500).

Scenario: entries arrive with their labels and content; Loki stops; more entries; the daemon stops (SIGTERM),
starts, gets more entries, is killed (SIGKILL), starts again, more entries; Loki starts again; every entry
arrives exactly once, in order. With the stub, also: a refused batch is skipped and reported, a failed one
retried, and no entry was pushed twice (every stop happened while Loki was away, so no push was in flight).
"""
import calendar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "loki-test-token-0123456789"
AGENT = "loki-test"
START = time.time()
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def wait_until(pred, what, limit=25.0):
    end = time.monotonic() + limit
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.0f s waiting for %s" % (limit, what))
        time.sleep(0.1)  # polling with a deadline


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=5):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def find_grafana_loki():
    candidate = os.environ.get("LOKI_BIN") or shutil.which("loki")
    if not candidate:
        return None
    try:
        out = subprocess.run([candidate, "-version"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout + out.stderr).decode(errors="replace")
    return candidate if re.search(r"^loki, version", text, re.M) else None


class loki:
    def __init__(self, kind, binary, work):
        self.kind, self.binary, self.work = kind, binary, work
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.data = os.path.join(work, "loki-data")
        os.makedirs(self.data)
        self.proc = None
        if kind == "real":
            self.config = os.path.join(work, "loki.yaml")
            with open(self.config, "w") as f:
                f.write(REAL_CONFIG.format(port=self.port, grpc=free_port(), dir=self.data))

    def start(self):
        log = open(os.path.join(self.work, "loki.log"), "ab")
        if self.kind == "real":
            cmd = [self.binary, "-config.file=" + self.config]
        else:
            cmd = [sys.executable, os.path.join(HERE, "stub_loki.py"), str(self.port), self.data]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_until(lambda: http("GET", self.url + "/ready")[0] == 200, "Loki to be ready", 40)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def control(self, **kw):
        assert self.kind == "stub"
        http("POST", self.url + "/stub/control", json.dumps(kw).encode())

    def query(self):
        """Every entry of this agent: (labels, ns, line dict), each stream's in Loki's order."""
        q = urllib.parse.urlencode({
            "query": '{agent="%s"}' % AGENT, "limit": "5000", "direction": "forward",
            "start": str(int((START - 3600) * 1e9)), "end": str(int((time.time() + 3600) * 1e9))})
        status, body = http("GET", self.url + "/loki/api/v1/query_range?" + q)
        if status != 200:
            return None
        out = []
        for s in json.loads(body)["data"]["result"]:
            for ts, line in s["values"]:
                out.append((s["stream"], int(ts), json.loads(line)))
        return out


REAL_CONFIG = """auth_enabled: false
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {port}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: {grpc}
  log_level: warn
common:
  path_prefix: {dir}
  replication_factor: 1
  storage:
    filesystem:
      chunks_directory: {dir}/chunks
      rules_directory: {dir}/rules
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
ingester:
  lifecycler:
    min_ready_duration: 0s
    final_sleep: 0s
schema_config:
  configs:
    - from: 2020-10-24
      store: boltdb-shipper
      object_store: filesystem
      schema: v11
      index:
        prefix: index_
        period: 24h
analytics:
  reporting_enabled: false
"""


class daemon:
    def __init__(self, binary, root, loki_url):
        self.binary, self.root, self.loki_url = binary, root, loki_url
        self.proc, self.port, self.runs = None, 0, 0

    def start(self):
        self.runs += 1
        self.err = os.path.join(self.root, "daemon-%d.err" % self.runs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GATEWAY_")}
        cmd = [self.binary, "--listen", "127.0.0.1:0", "--root", self.root, "--token", TOKEN, "--agent-id", AGENT,
               "--snapshot-interval", "0", "--loki-url", self.loki_url, "--engine-log", self.root + "/engine.log"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.err, "wb"),
                                     stdin=subprocess.DEVNULL, env=env)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("agent-gateway exited: " + open(self.err).read())
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(self.err).read())
            return m and int(m.group(1))
        self.port = wait_until(listening, "agent-gateway to listen", 20)

    def get(self, path):
        return http("GET", "http://127.0.0.1:%d%s" % (self.port, path),
                    headers={"Authorization": "Bearer " + TOKEN})

    def journal_has(self, marker):
        status, body = self.get("/v0/agents/%s/logs?lines=1000" % AGENT)
        return status == 200 and marker in json.loads(body)["logs"]

    def metric(self, name):
        status, body = self.get("/metrics")
        m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), body.decode(), re.M) if status == 200 else None
        return float(m.group(1)) if m else None

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def main():
    binary, kind = sys.argv[1], sys.argv[2]
    loki_bin = None
    if kind == "real":
        loki_bin = find_grafana_loki()
        if not loki_bin:
            print("SKIP: Grafana Loki is not installed (set LOKI_BIN; Debian's `loki` package is an unrelated "
                  "program, Grafana Loki is not in the Debian archive)")
            return 77
    work = tempfile.mkdtemp(prefix="agw-loki-")
    root = os.path.join(work, "root")
    os.makedirs(root)
    engine_log = os.path.join(root, "engine.log")
    open(engine_log, "w").close()
    server = loki(kind, loki_bin, work)
    d = daemon(binary, root, server.url)
    expected = []  # (marker, source, level) in the order written

    def write(batch, n):
        with open(engine_log, "a") as f:
            for i in range(n):
                marker = "loki-mark %s %03d" % (batch, i)
                if i % 2:
                    f.write(json.dumps({"level": "warn", "msg": marker, "source": "tool/x"}) + "\n")
                    expected.append((marker, "tool/x", "WARN"))
                else:
                    f.write(marker + "\n")
                    expected.append((marker, "engine", "INFO"))
        last = "loki-mark %s %03d" % (batch, n - 1)
        wait_until(lambda: d.journal_has(last), "batch %s in the journal" % batch, 15)

    def marks():
        got = server.query() or []
        return [(labels, ts, e) for labels, ts, e in got if e.get("message", "").startswith("loki-mark ")]

    def arrived(markers):
        have = {e["message"] for _, _, e in marks()}
        return all(m in have for m in markers)

    try:
        server.start()
        d.start()
        write("A", 20)
        wait_until(lambda: arrived([m for m, _, _ in expected]), "batch A in Loki")
        got = marks()
        check(all(l["agent"] == AGENT and l["service_name"] == "agent-gateway" for l, _, _ in got),
              "labels agent and service_name on every stream")
        by_msg = {e["message"]: (l, ts, e) for l, ts, e in got}
        check(all(by_msg[m][0]["source"] == src and by_msg[m][2]["source"] == src and by_msg[m][2]["level"] == lv
                  for m, src, lv in expected), "source label and line content match what was logged")
        check(all(ts // 1000000 == calendar.timegm(time.strptime(e["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) * 1000 +
                  int(e["timestamp"][20:23])
                  for _, ts, e in got), "Loki timestamps are the entries' own")

        if kind == "stub":
            server.control(reject_next=1)
            with open(engine_log, "a") as f:
                f.write("loki-mark refused 000\n")
            wait_until(lambda: any("refused a batch" in e["message"] for _, _, e in server.query() or []),
                       "the daemon to report the refused batch in its own log, shipped")
            check("loki-mark refused 000" not in {e["message"] for _, _, e in marks()},
                  "a batch Loki refused (400) is skipped")
            check(d.metric("agent_gateway_loki_entries_rejected_total") >= 1, "refused entries counted")
            server.control(fail_next=2)
            write("F", 2)
            wait_until(lambda: arrived(["loki-mark F 001"]), "batch F after two failures (500)")
            check(d.metric("agent_gateway_loki_push_failures_total") >= 2, "failed pushes counted")

        server.stop()
        failed_before = d.metric("agent_gateway_loki_push_failures_total")
        write("B", 20)
        wait_until(lambda: d.metric("agent_gateway_loki_push_failures_total") > failed_before,
                   "a failed push while Loki is away")
        check(d.metric("agent_gateway_loki_lag_entries") >= 20, "lag counts the entries waiting")
        check(d.stop() == 0, "daemon stops cleanly (SIGTERM) while Loki is away")
        d.start()
        write("C", 20)
        d.stop(signal.SIGKILL)
        d.start()
        write("D", 20)
        server.start()
        wait_until(lambda: arrived([m for m, _, _ in expected]), "every batch in Loki after Loki came back", 40)
        wait_until(lambda: d.metric("agent_gateway_loki_lag_entries") == 0, "lag back to 0")

        got = marks()
        counts = {}
        for _, _, e in got:
            counts[e["message"]] = counts.get(e["message"], 0) + 1
        check(all(counts.get(m) == 1 for m, _, _ in expected),
              "every entry exactly once in Loki (%d entries)" % len(expected))
        seq_of = {e["message"]: e["seq"] for _, _, e in got}
        seqs = [seq_of[m] for m, _, _ in expected]
        check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "seq increases in the order written")
        streams = {}
        for l, ts, e in got:
            streams.setdefault(json.dumps(l, sort_keys=True), []).append((ts, e["seq"]))
        check(all([s for _, s in sorted(v)] == sorted(s for _, s in v) for v in streams.values()),
              "within each stream, timestamp order is seq order")
        if kind == "stub":
            status, body = http("GET", server.url + "/stub/received")
            pushed = [json.loads(line)["message"] for _, _, line in json.loads(body)]
            dups = len([m for m in pushed if m.startswith("loki-mark ")]) - len(set(m for m in pushed
                                                                                  if m.startswith("loki-mark ")))
            check(dups == 0, "no entry pushed twice (%d duplicate pushes)" % dups)
        check(d.stop() == 0, "daemon stops cleanly")
    except AssertionError as e:
        check(False, str(e))
    finally:
        if d.proc and d.proc.poll() is None:
            d.stop(signal.SIGKILL)
        server.stop()
        if failures:
            for name in ["loki.log"] + ["root/daemon-%d.err" % i for i in range(1, d.runs + 1)]:
                p = os.path.join(work, name)
                if os.path.exists(p):
                    print("---- %s (tail)" % name)
                    print("".join(open(p, errors="replace").readlines()[-30:]))
        shutil.rmtree(work, ignore_errors=True)
    total = len(failures)
    print("loki (%s): %.1f s" % (kind, time.time() - START))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
