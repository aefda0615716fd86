#!/usr/bin/env python3
"""A real HTTP/1.1 service for the proxy tests (tests/integration/proxy_test.cpp).

Binds 127.0.0.1:0, prints the port on stdout, and serves until stdin closes. What it does is chosen by the last
path segment, so it works under any route prefix:
  echo            the request as JSON: method, target, headers (in order), body length and SHA-256
  chunked         a chunked answer in three pieces with a trailer X-Checksum
  sse             one event, then the next only once /release was called (proves nothing is buffered)
  release         lets sse go on
  die             announces 1000 bytes, sends 100, closes
  die-chunked     one chunk, then closes without the last chunk
  silent          reads the request and never answers
  reset           reads the head only, then resets the connection (SO_LINGER 0) with the body still coming
  huge-headers    1 MB of header fields
  close-delimited HTTP/1.0 style: no length, the end is the close
  connections     how many TCP connections were accepted so far
  big             200 MiB of 'b' with its length, written 64 KiB at a time
  progress        how many bytes of `big` were written so far
  (any upgrade)   WebSocket echo; a close frame is answered with the same code and reason
  ws-die          WebSocket that says "bye" and drops the TCP connection without a close frame
  agent, wake     an engine's task hooks (tests/integration/tasks_test.cpp): the request is recorded; agent
                  answers {"ok":true,"completion":{"status":…}}, "error" when the message holds "fail", 401
                  when it holds "deny", nothing for 30 s when it holds "hang"; wake answers "queued"
  hooks-seen      the hook requests recorded so far: path, authorization, body
  set-gw-cookie   answers with Set-Cookie gw_token=… (which must not reach the client) and one of its own
"""
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

release = threading.Event()
hooks_seen = []
big_written = 0
accepted = 0
accepted_lock = threading.Lock()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 overflows under the differential test's 64 clients: the kernel
    # then drops or resets new connections, which the daemon rightly answers 502.
    request_queue_size = 128

    def get_request(self):
        global accepted
        conn = super().get_request()
        with accepted_lock:
            accepted += 1
        return conn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        h = hashlib.sha256()
        total = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 20))
                    h.update(piece)
                    total += len(piece)
                    left -= len(piece)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                piece = self.rfile.read(min(left, 1 << 20))
                if not piece:
                    break
                h.update(piece)
                total += len(piece)
                left -= len(piece)
        return total, h.hexdigest()

    def send_json(self, value, status=200):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "app_session=s1; Path=/")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        global big_written
        what = self.path.split("?")[0].rstrip("/").split("/")[-1]
        if what == "ws-die":
            return self.websocket(True)
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket(False)
        if what in ("agent", "wake"):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            hooks_seen.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body})
            message = str(body.get("message", ""))
            if what == "wake":
                return self.send_json({"ok": True, "mode": body.get("mode"), "eventOutcome": "queued"})
            if "deny" in message:
                return self.send_json({"error": "Unauthorized"}, 401)
            if "hang" in message:
                release.wait(30)
            if "fail" in message:
                return self.send_json({"ok": True, "runId": "r", "completion": {"status": "error", "error": "model failed"}})
            return self.send_json({"ok": True, "runId": "r", "completion": {"status": "ok"}})
        if what == "hooks-seen":
            self.read_body()
            return self.send_json(hooks_seen)
        if what == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if what == "silent":
            self.read_body()
            release.wait(120)
            self.close_connection = True
            return
        length, digest = self.read_body()
        if what == "release":
            release.set()
            return self.send_json({"released": True})
        if what == "set-gw-cookie":
            body = b"{}"
            self.send_response(200)
            self.send_header("Set-Cookie", "gw_token=from-the-app; Path=/")
            self.send_header("Set-Cookie", "app_pref=1; Path=/")
            self.send_header("Set-Cookie", " GW_TOKEN=x; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if what == "connections":
            return self.send_json({"accepted": accepted})
        if what == "progress":
            return self.send_json({"written": big_written})
        if what == "big":
            total = 200 << 20
            piece = b"b" * (64 << 10)
            self.send_response(200)
            self.send_header("Content-Length", str(total))
            self.end_headers()
            for _ in range(total // len(piece)):
                self.wfile.write(piece)
                big_written += len(piece)
            return
        if what == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            for piece in (b"one,", b"two,", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Checksum: abc\r\n\r\n")
            return
        if what == "sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            first = b"data: first\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
            self.wfile.flush()
            release.wait(60)
            second = b"data: second\n\n"
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
            return
        if what == "die":
            return self.die_after(("Content-Length", "1000"), b"x" * 100)
        if what == "die-chunked":
            return self.die_after(("Transfer-Encoding", "chunked"), b"5\r\nhello\r\n")
        if what == "huge-headers":
            self.send_response(200)
            for i in range(1024):
                self.send_header("X-Filler-%d" % i, "y" * 1000)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if what == "close-delimited":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n")
            self.wfile.write(b"until the end")
            self.close_connection = True
            return
        self.send_json({
            "method": self.command,
            "target": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "bodyLength": length,
            "bodySha256": digest,
        })

    def die_after(self, framing, sent):
        """Announces a body, sends only part of it, and drops the connection."""
        self.send_response(200)
        self.send_header(*framing)
        self.end_headers()
        self.wfile.write(sent)
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

    def websocket(self, die):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True
        if die:
            self.wfile.write(b"\x81\x03bye")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, n = head[0] & 0x0F, head[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
            first = head[0] & 0x8F  # FIN and opcode as they came: fragments stay fragments
            if len(data) < 126:
                frame = bytes([first, len(data)]) + data
            else:
                frame = bytes([first, 126]) + struct.pack(">H", len(data)) + data
            self.wfile.write(frame)
            self.wfile.flush()
            if opcode == 0x8:
                return


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the test closes our stdin (or dies) when it is done
    release.set()


if __name__ == "__main__":
    main()
