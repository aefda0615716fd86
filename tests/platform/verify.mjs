// The daemon's platform tokens checked by jose, an independent JOSE implementation, with the key the
// daemon publishes as a JWKS (docs/api.md §15). TAP-style output; exit 1 on any failure.
//   node verify.mjs BASE_URL GATEWAY_TOKEN AGENT_ID
import * as jose from "jose";

const [base, token, agent] = process.argv.slice(2);
let failed = 0;
let n = 0;
function check(name, ok, detail = "") {
    n += 1;
    console.log(`${ok ? "ok" : "not ok"} ${n} - ${name}${ok || !detail ? "" : `: ${detail}`}`);
    if (!ok) failed += 1;
}
async function fetchJson(path, init = {}) {
    const r = await fetch(base + path, { ...init, signal: AbortSignal.timeout(10000) });
    return { status: r.status, type: r.headers.get("content-type"), body: await r.json() };
}
const auth = { method: "POST", headers: { Authorization: `Bearer ${token}` } };

const jwks = await fetchJson("/.well-known/jwks.json");
check("the JWKS is served without a token", jwks.status === 200, JSON.stringify(jwks));
check("as application/jwk-set+json", jwks.type === "application/jwk-set+json", jwks.type);
const [jwk] = jwks.body.keys;
check("its kid is the key's RFC 7638 thumbprint", jwk.kid === (await jose.calculateJwkThumbprint(jwk, "sha256")));
const keys = jose.createLocalJWKSet(jwks.body);

for (const path of ["/v0/platform/token", `/v0/agents/${agent}/platform/token`]) {
    const minted = await fetchJson(path, auth);
    check(`POST ${path}: 200`, minted.status === 200, JSON.stringify(minted));
    const before = Math.floor(Date.now() / 1000);
    try {
        const { payload, protectedHeader } = await jose.jwtVerify(minted.body.token, keys, { algorithms: ["ES256"] });
        check(`${path}: header names ES256, JWT and the JWKS's kid`,
              protectedHeader.alg === "ES256" && protectedHeader.typ === "JWT" && protectedHeader.kid === jwk.kid,
              JSON.stringify(protectedHeader));
        check(`${path}: sub is the agent id`, payload.sub === agent, payload.sub);
        check(`${path}: exp is iat + 3600, iat is now`,
              payload.exp - payload.iat === 3600 && Math.abs(payload.iat - before) <= 5, JSON.stringify(payload));
        check(`${path}: expiresAt is exp`, new Date(payload.exp * 1000).toISOString() === minted.body.expiresAt,
              minted.body.expiresAt);
    } catch (e) {
        check(`${path}: jose verifies the token`, false, e.message);
    }
}

// A verifier that can fail: a token whose claims were changed after signing is refused.
const { body } = await fetchJson("/v0/platform/token", auth);
const [h, , s] = body.token.split(".");
const forged = `${h}.${jose.base64url.encode(JSON.stringify({ sub: "someone-else", iat: 0, exp: 4102444800 }))}.${s}`;
try {
    await jose.jwtVerify(forged, keys, { algorithms: ["ES256"] });
    check("a token with changed claims is refused", false, "it verified");
} catch (e) {
    check("a token with changed claims is refused", e.code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", e.code);
}
const unauthorized = await fetchJson("/v0/platform/token", { method: "POST" });
check("no gateway token: 401", unauthorized.status === 401, JSON.stringify(unauthorized));

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
