#!/usr/bin/env python3
"""An OpenAI-compatible model on loopback for the engine suite: every chat completion answers
"The stub model heard you." in three streamed pieces (or whole, when not streamed); the engine wraps the
user's words in context of its own, so the reply is fixed and the test looks for it. Prints its port on
stdout; serves until stdin closes. The engine has no internet here; this is its model."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


REPLY = "The stub model heard you."


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, value):
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_json({"object": "list", "data": [{"id": "echo", "object": "model", "owned_by": "stub"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        text = REPLY
        if not body.get("stream"):
            return self.send_json({"id": "c1", "object": "chat.completion", "created": int(time.time()),
                                   "model": "echo", "choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": text}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(value):
            data = b"data: " + (value if isinstance(value, bytes) else json.dumps(value).encode()) + b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        third = max(1, len(text) // 3)
        pieces = [text[:third], text[third:2 * third], text[2 * third:]]
        for i, piece in enumerate(pieces):
            delta = {"content": piece}
            if i == 0:
                delta["role"] = "assistant"
            event({"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()), "model": "echo",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        event({"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()), "model": "echo",
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}})
        event(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
