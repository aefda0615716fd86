// A Node `http` service for the proxy differential test: keep-alive as Node does it by default, and an echo
// of what it received (method, target, body length and SHA-256). Prints its port; ends when stdin closes.
import { createServer } from "node:http";
import { createHash } from "node:crypto";

const server = createServer((req, res) => {
  const hash = createHash("sha256");
  let length = 0;
  req.on("data", (piece) => {
    hash.update(piece);
    length += piece.length;
  });
  req.on("end", () => {
    const body = JSON.stringify({
      method: req.method,
      target: req.url,
      bodyLength: length,
      bodySha256: hash.digest("hex"),
    });
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
