#!/usr/bin/env python3
"""A stand-in for Grafana Loki's HTTP API, for the loki test where Grafana Loki is not installed (Debian's
`loki` package is an unrelated program). It checks pushes as Loki does (JSON streams, label sets, values of
["<ns>", "<line>"] in timestamp order per stream), keeps entries across its own restarts in DATA_DIR (as
Loki's WAL does), drops an entry equal in stream, timestamp and line to one it holds (as Loki does), and
answers /ready and query_range. /stub/* lets the test make it refuse (400) or fail (500) the next pushes
and see every push received, duplicates included.

usage: stub_loki.py PORT DATA_DIR
"""
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, data_dir = int(sys.argv[1]), sys.argv[2]
store_path = os.path.join(data_dir, "entries.jsonl")
received_path = os.path.join(data_dir, "received.jsonl")  # every push, across the stub's restarts
lock = threading.Lock()
entries = {}  # (labels tuple, ts, line) -> None, in arrival order
control = {"reject_next": 0, "fail_next": 0}

if os.path.exists(store_path):
    with open(store_path) as f:
        for raw in f:
            if raw.endswith("\n"):
                labels, ts, line = json.loads(raw)
                entries[(tuple(sorted(labels.items())), ts, line)] = None


def bad(handler, code, message):
    body = message.encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def check_push(doc):
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        return "no streams"
    for s in doc["streams"]:
        labels = s.get("stream")
        if not isinstance(labels, dict) or not labels or not all(
                isinstance(k, str) and re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", k) and isinstance(v, str) and v
                for k, v in labels.items()):
            return "bad labels %r" % (labels,)
        values = s.get("values")
        if not isinstance(values, list) or not values:
            return "no values"
        last = -1
        for v in values:
            if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and v[0].isdigit()
                    and isinstance(v[1], str)):
                return "bad value %r" % (v,)
            if int(v[0]) < last:
                return "entry out of order for stream %r" % (labels,)
            last = int(v[0])
    return None


def matches(selector, labels):
    for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"', selector):
        if labels.get(k) != v:
            return False
    return True


class handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, doc=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(code)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/ready":
            return bad(self, 200, "ready")
        if url.path == "/stub/received":
            with lock, open(received_path) as f:
                return self.reply(200, [json.loads(raw) for raw in f if raw.endswith("\n")])
        if url.path == "/loki/api/v1/query_range":
            selector = q.get("query", "")
            limit = int(q.get("limit", "100"))
            streams = {}
            with lock:
                for (labels, ts, line) in entries:
                    d = dict(labels)
                    if matches(selector, d):
                        streams.setdefault(labels, []).append([ts, line])
            result = []
            for labels, values in streams.items():
                values.sort(key=lambda v: int(v[0]))
                result.append({"stream": dict(labels), "values": values[:limit]})
            return self.reply(200, {"status": "success", "data": {"resultType": "streams", "result": result}})
        bad(self, 404, "404 page not found")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if url.path == "/stub/control":
            with lock:
                control.update(json.loads(body))
            return self.reply(200, control)
        if url.path != "/loki/api/v1/push":
            return bad(self, 404, "404 page not found")
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return bad(self, 415, "unsupported content type")
        try:
            doc = json.loads(body)
        except ValueError as e:
            return bad(self, 400, "invalid JSON: %s" % e)
        problem = check_push(doc)
        if problem:
            return bad(self, 400, problem)
        with lock:
            if control["fail_next"] > 0:
                control["fail_next"] -= 1
                return bad(self, 500, "stub: failing as told")
            if control["reject_next"] > 0:
                control["reject_next"] -= 1
                return bad(self, 400, "stub: refusing as told")
            with open(store_path, "a") as f, open(received_path, "a") as r:
                for s in doc["streams"]:
                    labels = tuple(sorted(s["stream"].items()))
                    for ts, line in s["values"]:
                        r.write(json.dumps([s["stream"], ts, line]) + "\n")
                        key = (labels, ts, line)
                        if key not in entries:
                            entries[key] = None
                            f.write(json.dumps([s["stream"], ts, line]) + "\n")
        self.reply(204)


ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer(("127.0.0.1", port), handler)
server.serve_forever()
