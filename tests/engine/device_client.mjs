// A device connecting to the engine's chat through the daemon, with a signed Ed25519 identity, as a browser or
// the product's app would (tests/engine/openclaw_test.cpp). Usage: node device_client.mjs URL ENGINE_TOKEN
// [X-Forwarded-For]. Prints one JSON line: the device id and the engine's answer to `connect`. Bounded: 20 s.
import crypto from "node:crypto";

const [url, token, forwardedFor] = process.argv.slice(2);
const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
const raw = publicKey.export({ format: "jwk" }).x; // base64url of the 32-byte key
const deviceId = crypto.createHash("sha256").update(Buffer.from(raw, "base64url")).digest("hex");
const headers = forwardedFor ? { "X-Forwarded-For": forwardedFor } : {};
const ws = new WebSocket(url, { headers });
const done = (result) => {
    console.log(JSON.stringify({ deviceId, ...result }));
    process.exit(0);
};
setTimeout(() => done({ error: "timed out" }), 20000).unref();
ws.onerror = (e) => done({ error: [e.message, e.error?.message, e.error?.cause?.message].filter(Boolean).join(": ") });
ws.onclose = (e) => done({ closed: e.code, reason: e.reason });
ws.onmessage = (m) => {
    const frame = JSON.parse(m.data);
    if (frame.type === "event" && frame.event === "connect.challenge") {
        const scopes = ["operator.read", "operator.write"];
        const signedAt = Date.now();
        const nonce = frame.payload.nonce;
        const payload = ["v2", deviceId, "cli", "cli", "operator", scopes.join(","), String(signedAt), token, nonce].join("|");
        const signature = crypto.sign(null, Buffer.from(payload), privateKey).toString("base64url");
        ws.send(JSON.stringify({
            type: "req", id: "connect-1", method: "connect",
            params: {
                minProtocol: 4, maxProtocol: 4,
                client: { id: "cli", version: "1.0.0", platform: "linux", mode: "cli" },
                role: "operator", scopes, caps: [], commands: [], permissions: {},
                auth: { token },
                device: { id: deviceId, publicKey: raw, signature, signedAt, nonce },
            },
        }));
    } else if (frame.type === "res" && frame.id === "connect-1") {
        done({ answer: frame });
    }
};
