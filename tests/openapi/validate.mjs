// docs/openapi.json held against the daemon's real answers (docs/api.md §21), with validators that share no
// code with the daemon: @seriousme/openapi-schema-validator checks the document against the OpenAPI 3.1
// schema, and Ajv (JSON Schema 2020-12, strict) compiles every schema in it and validates every answer.
//
// The real agent-gateway is started on a demo root (an engine, its config and CLI, a platform key, files,
// a skill, build scripts) on a free loopback port. Every documented operation is called at least once, for
// its success and for errors; each answer's status must be documented for that operation, its
// Content-Type must be one the operation names for that status, and a JSON body must validate against that
// media type's schema. Each exchange also names the status it expects, so a scenario that silently went
// wrong (a 500 the document allows) fails too. The JSON bodies sent with a 2xx answer must validate against
// the operation's request schema, and the query parameters against theirs.
//
//   node validate.mjs AGENT_GATEWAY_BINARY DOCUMENT ENGINE_CLI_SCRIPT
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";

import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

import { finish, report, tally } from "../support/tap.mjs";

const [binary, documentPath, engineCli] = process.argv.slice(2).map((a) => a && resolvePath(a));
if (!binary || !documentPath || !engineCli) {
    console.error("usage: node validate.mjs AGENT_GATEWAY_BINARY DOCUMENT ENGINE_CLI_SCRIPT");
    process.exit(2);
}

const TOKEN = "openapi-token-0123456789";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// ---- The document itself -------------------------------------------------------------------------------

const documentText = readFileSync(documentPath, "utf8");
const doc = JSON.parse(documentText);
{
    const v = new Validator();
    const res = await v.validate(doc);
    report(res.valid && v.version === "3.1", "the document is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)",
        res.valid ? [] : (res.errors ?? []).slice(0, 20).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
}

const DOC_ID = "urn:agent-gateway:openapi";
const pointer = (parts) => "#" + parts.map((p) => "/" + String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
// The OpenAPI keywords around the schemas, and those it adds inside them, are not validation keywords.
const OAS_WORDS = ["openapi", "info", "servers", "security", "tags", "paths", "components", "webhooks",
    "jsonSchemaDialect", "externalDocs", "example", "discriminator", "xml"];
const newAjv = (options) => {
    // strictRequired off: it refuses `anyOf: [{required: [a]}, {required: [b]}]` beside `properties`, a
    // sound JSON Schema idiom for "one of these fields"; every other strict check stays on.
    const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true, ...options });
    addFormats(ajv);
    ajv.addVocabulary(OAS_WORDS);
    ajv.addSchema({ ...doc, $id: DOC_ID });
    return ajv;
};
const ajv = newAjv({});
const coercing = newAjv({ coerceTypes: true }); // query values are text
const compiled = new Map();
const validatorAt = (parts, which = ajv) => {
    const key = (which === ajv ? "" : "coerce:") + pointer(parts);
    if (!compiled.has(key)) compiled.set(key, which.compile({ $ref: DOC_ID + pointer(parts) }));
    return compiled.get(key);
};
// A schema that does not compile is one more problem of the exchange (the compile check above names it too).
const compileOrSay = (parts, problems, which = ajv) => {
    try {
        return validatorAt(parts, which);
    } catch (e) {
        problems.push(`the schema at ${pointer(parts)} does not compile: ${e.message}`);
        return undefined;
    }
};
const ajvErrors = (validate) => (validate.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || "(body)"} ${e.message} ${JSON.stringify(e.params)}`);

const resolve = (obj) => {
    // Only local references, as the document uses.
    let o = obj;
    const seen = new Set();
    while (o && typeof o === "object" && typeof o.$ref === "string") {
        if (seen.has(o.$ref)) throw new Error(`reference loop at ${o.$ref}`);
        seen.add(o.$ref);
        o = o.$ref.slice(2).split("/").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~")).reduce((a, k) => a[k], doc);
    }
    return o;
};
// Where a response, request body or parameter really lives (its $ref followed), for compiling its schema.
const locate = (parts) => {
    let node = parts.reduce((a, k) => a[k], doc);
    while (node && typeof node.$ref === "string") {
        parts = node.$ref.slice(2).split("/").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
        node = parts.reduce((a, k) => a[k], doc);
    }
    return parts;
};

const operations = [];
for (const [path, item] of Object.entries(doc.paths))
    for (const method of METHODS) if (item[method]) operations.push({ path, method, op: item[method], item });

// Every schema compiles under strict mode (a misspelt keyword, a "required" naming no property, a bad
// reference all fail), whether or not an exchange below reaches it.
{
    const problems = [];
    const tryCompile = (parts, what) => {
        try {
            validatorAt(parts);
        } catch (e) {
            problems.push(`${what}: ${e.message}`);
        }
    };
    for (const name of Object.keys(doc.components?.schemas ?? {})) tryCompile(["components", "schemas", name], `components.schemas.${name}`);
    for (const { path, method, op, item } of operations) {
        for (const [status] of Object.entries(op.responses)) {
            const at = locate(["paths", path, method, "responses", status]);
            const response = at.reduce((a, k) => a[k], doc);
            for (const media of Object.keys(response.content ?? {}))
                if (response.content[media].schema) tryCompile([...at, "content", media, "schema"], `${method} ${path} ${status} ${media}`);
        }
        if (op.requestBody) {
            const at = locate(["paths", path, method, "requestBody"]);
            const body = at.reduce((a, k) => a[k], doc);
            for (const media of Object.keys(body.content ?? {})) tryCompile([...at, "content", media, "schema"], `${method} ${path} request ${media}`);
        }
        [...(item.parameters ?? []).map((_, i) => ["paths", path, "parameters", i]), ...(op.parameters ?? []).map((_, i) => ["paths", path, method, "parameters", i])]
            .forEach((p) => tryCompile([...locate(p), "schema"], `${method} ${path} parameter`));
    }
    report(problems.length === 0, "every schema in the document compiles under Ajv's strict mode (JSON Schema 2020-12)", problems);
}

// What every operation must say, by what it is: the token's answers, the agent's 404, the cross-site 403.
{
    const problems = [];
    for (const { path, method, op } of operations) {
        const needsToken = !(Array.isArray(op.security) && op.security.length === 0);
        const codes = Object.keys(op.responses);
        const want = [];
        if (needsToken) want.push("401", "429");
        if (needsToken && !["get", "head", "options"].includes(method)) want.push("403");
        if (path.startsWith("/v0/agents/{agentId}")) want.push("404");
        for (const c of want) if (!codes.includes(c)) problems.push(`${method} ${path} lacks ${c}`);
        for (const c of codes) if (!/^[1-5][0-9][0-9]$/.test(c)) problems.push(`${method} ${path}: ${c} is not one status (no default, no ranges: every answer is named)`);
    }
    report(problems.length === 0, "every operation documents the answers its kind of route can give", problems);
}

// ---- A daemon on a demo root ---------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), "agw-openapi-"));
const root = join(work, "root");
const ws = join(root, "workspace");
mkdirSync(join(ws, "skills", "hello"), { recursive: true });
mkdirSync(join(ws, "docs"), { recursive: true });
writeFileSync(join(ws, "manifest.json"), JSON.stringify({ version: 1, agent: { name: "Demo Agent", engine: "openclaw" }, scripts: { build: "echo built" } }));
writeFileSync(join(ws, "skills", "hello", "SKILL.md"), "---\nname: hello\ndescription: A demo skill\n---\nSay hello.\n");
writeFileSync(join(ws, "notes.txt"), "hello from the workspace\n");
writeFileSync(join(ws, "data.json"), JSON.stringify({ a: [1, 2, 3] }));
writeFileSync(join(ws, "big.txt"), "x".repeat(8192));
writeFileSync(join(root, "openclaw.json"), JSON.stringify({ channels: { telegram: { botToken: "123456:ABCDEFGHIJKLMNOP", enabled: true } } }, null, 2));
const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
writeFileSync(join(work, "platform.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));

const daemon = spawn(binary, [
    "--listen", "127.0.0.1:0", "--root", root, "--token", TOKEN, "--snapshot-interval", "0",
    "--max-file-bytes", "4096", "--max-put-bytes", "200000", "--engine", "exec sleep 600", "--engine-config", join(root, "openclaw.json"),
    "--engine-cli", `sh ${engineCli}`, "--platform-key", join(work, "platform.pem"),
], { stdio: ["ignore", "ignore", "pipe"] });
let daemonLog = "";
const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error("the daemon did not say where it listens within 60 s")), 60000);
    daemon.stderr.on("data", (chunk) => {
        daemonLog += chunk;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(daemonLog);
        if (m) {
            clearTimeout(timer);
            resolvePort(Number(m[1]));
        }
    });
    daemon.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the daemon exited at start (${code}):\n${daemonLog}`));
    });
});
const stopDaemon = async () => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return;
    const exited = new Promise((r) => daemon.once("exit", r));
    daemon.kill("SIGTERM");
    const late = setTimeout(() => daemon.kill("SIGKILL"), 20000);
    await exited;
    clearTimeout(late);
};

// One request on a fresh connection, bounded by 30 s.
const call = (method, target, { headers = {}, body, upgrade = false } = {}) =>
    new Promise((resolveCall, reject) => {
        const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
        const h = { ...headers };
        if (payload !== undefined) {
            h["Content-Length"] = payload.length;
            if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["Content-Type"] = "application/json";
        }
        if (upgrade) Object.assign(h, { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": randomBytes(16).toString("base64") });
        const req = http.request({ host: "127.0.0.1", port, method: method.toUpperCase(), path: target, headers: h, agent: false });
        req.setTimeout(30000, () => req.destroy(new Error(`no answer to ${method} ${target} within 30 s`)));
        req.on("upgrade", (res, socket) => {
            socket.destroy();
            resolveCall({ status: res.statusCode, headers: res.headers, body: Buffer.alloc(0) });
        });
        req.on("response", (res) => {
            const parts = [];
            res.on("data", (d) => parts.push(d));
            res.on("end", () => resolveCall({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
            res.on("error", reject);
        });
        req.on("error", reject);
        req.end(payload);
    });

// ---- Checking one answer against the document ----------------------------------------------------------

const normalMedia = (v) => v.split(";").map((s) => s.trim().toLowerCase()).filter(Boolean).join("; ");
const isJson = (media) => {
    const bare = media.split(";")[0].trim();
    return bare === "application/json" || bare.endsWith("+json");
};
// The operation's media type for this Content-Type: exact (with parameters), the bare type, type/*, */*.
const mediaFor = (content, contentType) => {
    const keys = Object.keys(content);
    const full = normalMedia(contentType);
    const bare = full.split(";")[0];
    for (const want of [full, bare, bare.split("/")[0] + "/*", "*/*"]) {
        const key = keys.find((k) => normalMedia(k) === want);
        if (key !== undefined) return key;
    }
    return undefined;
};

const exercised = new Set();
const tokenParameters = new Set(Object.values(doc.components?.securitySchemes ?? {}).filter((s) => s.type === "apiKey" && s.in === "query").map((s) => s.name));
const substitute = (template, params) =>
    template.replace(/\{([^}]+)\}/g, (_, name) => {
        if (!(name in params)) throw new Error(`no value for {${name}} in ${template}`);
        return encodeURIComponent(params[name]);
    });

// One exchange: calls `method template` (with `params` for its path, `query`, `headers`, `body`), checks the
// answer against the document and that its status is `expect`; returns the answer (body parsed when JSON).
// `slash` asks for the path with a last "/" (the router takes a path with or without it; the console page
// lives at …/ui/).
async function exchange(name, method, template, { params = {}, query = {}, headers = {}, body, auth = true, upgrade = false, slash = false, expect }) {
    const item = doc.paths[template];
    const op = item?.[method];
    const problems = [];
    if (!op) {
        report(false, `${name}: ${method} ${template} is not in the document`);
        return undefined;
    }
    exercised.add(`${method} ${template}`);
    const qs = new URLSearchParams(query).toString();
    const target = substitute(template, { agentId: "local", ...params }) + (slash ? "/" : "") + (qs ? `?${qs}` : "");
    const h = { ...headers };
    if (auth) h.Authorization = `Bearer ${TOKEN}`;
    let res;
    try {
        res = await call(method, target, { headers: h, body, upgrade });
    } catch (e) {
        report(false, `${name}: ${method.toUpperCase()} ${target}`, [e.message]);
        return undefined;
    }
    const status = String(res.status);
    if (expect !== undefined && res.status !== expect) problems.push(`status ${res.status}, expected ${expect}: ${res.body.toString().slice(0, 300)}`);
    let parsed;
    const documented = op.responses[status];
    if (!documented) {
        problems.push(`status ${status} is not documented for ${method} ${template} (documented: ${Object.keys(op.responses).join(", ")})`);
    } else {
        const at = locate(["paths", template, method, "responses", status]);
        const response = at.reduce((a, k) => a[k], doc);
        const contentType = res.headers["content-type"];
        if (!response.content) {
            if (res.body.length) problems.push(`${status} is documented without a body, but ${res.body.length} bytes came`);
        } else if (!contentType) {
            if (res.body.length || method !== "head") problems.push(`${status} came without a Content-Type`);
        } else {
            const media = mediaFor(response.content, contentType);
            if (media === undefined) {
                problems.push(`Content-Type ${contentType} is not documented for ${status} (documented: ${Object.keys(response.content).join(", ")})`);
            } else if (isJson(media) && method !== "head") {
                try {
                    parsed = JSON.parse(res.body.toString("utf8"));
                } catch (e) {
                    problems.push(`the body is not JSON: ${e.message}`);
                }
                if (parsed !== undefined && response.content[media].schema) {
                    const validate = compileOrSay([...at, "content", media, "schema"], problems);
                    if (validate && !validate(parsed)) problems.push(`the ${status} body does not match ${media}'s schema:`, ...ajvErrors(validate), `body: ${res.body.toString().slice(0, 400)}`);
                }
            }
        }
    }
    // What a success was asked with must be what the document says may be asked.
    if (res.status >= 200 && res.status < 300) {
        if (body !== undefined && !Buffer.isBuffer(body) && typeof body !== "string") {
            if (!op.requestBody) problems.push("a body was sent, but the operation documents none");
            else {
                const at = locate(["paths", template, method, "requestBody"]);
                const validate = compileOrSay([...at, "content", "application/json", "schema"], problems);
                if (validate && !validate(body)) problems.push("the request body that succeeded does not match the request schema:", ...ajvErrors(validate));
            }
        }
        const declared = [...(item.parameters ?? []).map((_, i) => ["paths", template, "parameters", i]), ...(op.parameters ?? []).map((_, i) => ["paths", template, method, "parameters", i])].map(locate);
        for (const [key, value] of Object.entries(query)) {
            if (tokenParameters.has(key)) continue; // a security scheme, not the operation's
            const p = declared.find((parts) => {
                const param = parts.reduce((a, k) => a[k], doc);
                return param.in === "query" && param.name === key;
            });
            if (!p) {
                problems.push(`query parameter ${key} is not documented`);
                continue;
            }
            const validate = compileOrSay([...p, "schema"], problems, coercing);
            if (validate && !validate(value)) problems.push(`query ${key}=${value} does not match its schema:`, ...ajvErrors(validate));
        }
    }
    report(problems.length === 0, `${name}: ${method.toUpperCase()} ${target} → ${status}`, problems);
    return { status: res.status, headers: res.headers, body: parsed ?? res.body };
}

// ---- The exchanges ---------------------------------------------------------------------------------------

const A = "/v0/agents/{agentId}";
const json = (x) => x?.body ?? {};
try {
    // Open routes.
    await exchange("health", "get", "/healthz", { auth: false, expect: 200 });
    const served = await exchange("the document", "get", "/v0/openapi.json", { auth: false, expect: 200 });
    report(JSON.stringify(json(served)) === JSON.stringify(doc), "the daemon serves the document in the tree (docs/openapi.json)");
    await exchange("the document, unchanged", "get", "/v0/openapi.json", { auth: false, headers: { "If-None-Match": served?.headers.etag ?? "" }, expect: 304 });
    await exchange("the JWKS", "get", "/.well-known/jwks.json", { auth: false, expect: 200 });
    await exchange("metrics on loopback", "get", "/metrics", { auth: false, expect: 200 });

    // Authentication.
    await exchange("no token", "get", A, { auth: false, expect: 401 });
    await exchange("another agent", "get", A, { params: { agentId: "someone-else" }, expect: 404 });
    await exchange("?token=", "get", A, { auth: false, query: { token: TOKEN }, expect: 200 });
    await exchange("cookie from another site", "post", `${A}/restart`, { auth: false, headers: { Cookie: `gw_token=${TOKEN}`, Origin: "http://elsewhere.invalid" }, expect: 403 });

    // The agent and platform.
    await exchange("agent detail", "get", A, { expect: 200 });
    await exchange("whoami", "get", `${A}/platform/whoami`, { expect: 200 });
    await exchange("platform token", "post", "/v0/platform/token", { expect: 200 });
    await exchange("platform token, no token", "post", "/v0/platform/token", { auth: false, expect: 401 });
    await exchange("agent platform token", "post", `${A}/platform/token`, { expect: 200 });
    await exchange("engine restart", "post", `${A}/restart`, { expect: 200 });
    await exchange("scripts retry", "post", `${A}/scripts/retry`, { expect: 200 });

    // Console.
    await exchange("exec", "post", `${A}/console/exec`, { body: { command: "echo out; echo err >&2; exit 3", env: { X: "1" }, timeoutSeconds: 10 }, expect: 200 });
    await exchange("exec, empty command", "post", `${A}/console/exec`, { body: { command: "" }, expect: 400 });
    await exchange("exec, malformed JSON", "post", `${A}/console/exec`, { body: "{", expect: 400 });
    await exchange("exec, bad cwd", "post", `${A}/console/exec`, { body: { command: "true", cwd: "no/such/dir" }, expect: 400 });
    await exchange("terminal", "get", `${A}/console/pty`, { upgrade: true, query: { command: "sleep 600", cols: "100", rows: "30" }, expect: 101 });
    await exchange("terminal, bad size", "get", `${A}/console/pty`, { upgrade: true, query: { cols: "0" }, expect: 400 });
    await exchange("terminal, unknown session", "get", `${A}/console/pty`, { upgrade: true, query: { session: "nope" }, expect: 404 });
    await exchange("the console page", "get", `${A}/ui`, { slash: true, expect: 200 });
    await exchange("the console page, without its slash", "get", `${A}/ui`, { expect: 303 });
    await exchange("the console page, no token", "get", `${A}/ui`, { slash: true, auth: false, expect: 401 });
    const script = await exchange("the console page's script", "get", `${A}/ui/{asset}`, { params: { asset: "app.js" }, expect: 200 });
    await exchange("the console page's style, gzip", "get", `${A}/ui/{asset}`, { params: { asset: "style.css" }, headers: { "Accept-Encoding": "gzip" }, expect: 200 });
    await exchange("the console page's script, unchanged", "get", `${A}/ui/{asset}`, { params: { asset: "app.js" }, headers: { "If-None-Match": script?.headers.etag ?? "" }, expect: 304 });
    await exchange("an unknown asset", "get", `${A}/ui/{asset}`, { params: { asset: "nope.js" }, expect: 404 });
    const terminals = await exchange("terminal sessions", "get", `${A}/console/sessions`, { expect: 200 });
    const terminal = json(terminals).sessions?.[0]?.id ?? "none";
    await exchange("end a terminal session", "delete", `${A}/console/sessions/{id}`, { params: { id: terminal }, expect: 200 });
    await exchange("end an unknown terminal session", "delete", `${A}/console/sessions/{id}`, { params: { id: terminal }, expect: 404 });
    await exchange("streaming exec", "post", `${A}/console/exec`, { query: { stream: "true" }, body: { command: "echo out; echo err >&2" }, expect: 200 });

    // Background processes (§18).
    const started = await exchange("start a process", "post", `${A}/processes`, { body: { command: "cat; sleep 600", name: "demo", restart: "never", maxRestarts: 0, env: { X: "1" } }, expect: 201 });
    const proc = json(started).id ?? "none";
    await exchange("start a process, bad restart", "post", `${A}/processes`, { body: { command: "true", restart: "sometimes" }, expect: 400 });
    await exchange("processes", "get", `${A}/processes`, { expect: 200 });
    await exchange("one process", "get", `${A}/processes/{id}`, { params: { id: proc }, expect: 200 });
    await exchange("an unknown process", "get", `${A}/processes/{id}`, { params: { id: "p-none" }, expect: 404 });
    await exchange("process input", "post", `${A}/processes/{id}/input`, { params: { id: proc }, body: { data: "hello\n", close: true }, expect: 200 });
    await exchange("process input, bad data", "post", `${A}/processes/{id}/input`, { params: { id: proc }, body: { data: 5 }, expect: 400 });
    await exchange("process output", "get", `${A}/processes/{id}/output`, { params: { id: proc }, query: { after: "0" }, expect: 200 });
    await exchange("process output, bad after", "get", `${A}/processes/{id}/output`, { params: { id: proc }, query: { after: "x" }, expect: 400 });
    await exchange("process signal", "post", `${A}/processes/{id}/signal`, { params: { id: proc }, body: { signal: "CONT" }, expect: 200 });
    await exchange("process signal, bad", "post", `${A}/processes/{id}/signal`, { params: { id: proc }, body: { signal: "BOGUS" }, expect: 400 });
    await exchange("remove a process", "delete", `${A}/processes/{id}`, { params: { id: proc }, expect: 200 });
    await exchange("remove an unknown process", "delete", `${A}/processes/{id}`, { params: { id: proc }, expect: 404 });

    // Files.
    await exchange("file read", "get", `${A}/files`, { query: { path: "workspace/notes.txt" }, expect: 200 });
    const jsonFile = await exchange("JSON file read", "get", `${A}/files`, { query: { path: "workspace/data.json" }, expect: 200 });
    await exchange("directory listing", "get", `${A}/files`, { query: { path: "workspace" }, expect: 200 });
    await exchange("file range", "get", `${A}/files`, { query: { path: "workspace/notes.txt" }, headers: { Range: "bytes=0-4" }, expect: 206 });
    await exchange("file, not modified", "get", `${A}/files`, { query: { path: "workspace/data.json" }, headers: { "If-None-Match": jsonFile?.headers.etag ?? "" }, expect: 304 });
    await exchange("file range outside", "get", `${A}/files`, { query: { path: "workspace/notes.txt" }, headers: { Range: "bytes=9000-" }, expect: 416 });
    await exchange("file too large", "get", `${A}/files`, { query: { path: "workspace/big.txt" }, expect: 413 });
    await exchange("file missing", "get", `${A}/files`, { query: { path: "workspace/nope.txt" }, expect: 404 });
    await exchange("file without path", "get", `${A}/files`, { expect: 400 });
    await exchange("upload", "post", `${A}/files/upload`, { body: { filename: "hello.txt", contentBase64: Buffer.from("hello").toString("base64") }, expect: 200 });
    await exchange("upload, bad name", "post", `${A}/files/upload`, { body: { filename: "../x", contentBase64: "aGk=" }, expect: 400 });
    await exchange("upload, bad base64", "post", `${A}/files/upload`, { body: { filename: "x.txt", contentBase64: "!!!" }, expect: 400 });
    await exchange("upload, too large", "post", `${A}/files/upload`, { body: { filename: "x.bin", contentBase64: "A".repeat(200000) }, expect: 413 });
    // docs/api.md §19: writes, removals, moves, archives.
    const octets = { "Content-Type": "application/octet-stream" };
    const written = await exchange("file write, created", "put", `${A}/files`, { query: { path: "workspace/put/a.txt", mkdirs: "true" }, headers: octets, body: Buffer.from("one"), expect: 201 });
    await exchange("file write, replaced", "put", `${A}/files`, { query: { path: "workspace/put/a.txt" }, headers: { ...octets, "If-Match": written?.headers.etag ?? "" }, body: Buffer.from("two"), expect: 200 });
    await exchange("file write, precondition failed", "put", `${A}/files`, { query: { path: "workspace/put/a.txt" }, headers: { ...octets, "If-None-Match": "*" }, body: Buffer.from("three"), expect: 412 });
    await exchange("file write, no parent", "put", `${A}/files`, { query: { path: "workspace/nope/a.txt" }, headers: octets, body: Buffer.from("x"), expect: 404 });
    await exchange("file write, the daemon's own", "put", `${A}/files`, { query: { path: ".agent-gateway/x" }, headers: octets, body: Buffer.from("x"), expect: 403 });
    await exchange("file write, a directory in the way", "put", `${A}/files`, { query: { path: "workspace/put" }, headers: octets, body: Buffer.from("x"), expect: 409 });
    await exchange("file write, too large", "put", `${A}/files`, { query: { path: "workspace/put/big.bin" }, headers: octets, body: Buffer.alloc(300000), expect: 413 });
    await exchange("file write, without path", "put", `${A}/files`, { headers: octets, body: Buffer.from("x"), expect: 400 });
    await exchange("file archive", "get", `${A}/files/archive`, { query: { path: "workspace", format: "tar.gz", exclude: "*.txt" }, expect: 200 });
    await exchange("file archive, zip", "get", `${A}/files/archive`, { query: { path: "workspace/put", format: "zip" }, expect: 200 });
    await exchange("file archive, tar", "get", `${A}/files/archive`, { query: { path: "workspace/put", format: "tar" }, expect: 200 });
    await exchange("file archive, not a directory", "get", `${A}/files/archive`, { query: { path: "workspace/notes.txt" }, expect: 400 });
    await exchange("file archive, missing", "get", `${A}/files/archive`, { query: { path: "workspace/nope" }, expect: 404 });
    await exchange("file watch", "get", `${A}/files/watch`, { upgrade: true, query: { path: "workspace/put", recursive: "true" }, expect: 101 });
    await exchange("file watch, not a directory", "get", `${A}/files/watch`, { upgrade: true, query: { path: "workspace/notes.txt" }, expect: 400 });
    await exchange("file watch, missing", "get", `${A}/files/watch`, { upgrade: true, query: { path: "workspace/nope" }, expect: 404 });
    await exchange("file watch, no token", "get", `${A}/files/watch`, { upgrade: true, auth: false, query: { path: "workspace/put" }, expect: 401 });
    await exchange("file move", "post", `${A}/files/move`, { body: { from: "workspace/put/a.txt", to: "workspace/put/b.txt" }, expect: 200 });
    await exchange("file move, target exists", "post", `${A}/files/move`, { body: { from: "workspace/put/b.txt", to: "workspace/notes.txt" }, expect: 409 });
    await exchange("file move, missing", "post", `${A}/files/move`, { body: { from: "workspace/put/zz", to: "workspace/put/yy" }, expect: 404 });
    await exchange("file move, the workspace", "post", `${A}/files/move`, { body: { from: "workspace", to: "elsewhere" }, expect: 403 });
    await exchange("file move, bad field", "post", `${A}/files/move`, { body: { from: 1, to: "x" }, expect: 400 });
    await exchange("file delete, not empty", "delete", `${A}/files`, { query: { path: "workspace/put" }, expect: 409 });
    await exchange("file delete", "delete", `${A}/files`, { query: { path: "workspace/put", recursive: "true" }, expect: 200 });
    await exchange("file delete, missing", "delete", `${A}/files`, { query: { path: "workspace/put" }, expect: 404 });
    await exchange("file delete, the workspace", "delete", `${A}/files`, { query: { path: "workspace", recursive: "true" }, expect: 403 });
    await exchange("file delete, without path", "delete", `${A}/files`, { expect: 400 });

    // Logs.
    await exchange("logs", "get", `${A}/logs`, { query: { lines: "5" }, expect: 200 });
    await exchange("logs, bad lines", "get", `${A}/logs`, { query: { lines: "0" }, expect: 400 });
    await exchange("log stream", "get", "/v0/logs", { upgrade: true, query: { level: "INFO" }, expect: 101 });
    await exchange("log stream, no token", "get", "/v0/logs", { upgrade: true, auth: false, expect: 401 });
    await exchange("log stream, no upgrade", "get", "/v0/logs", { expect: 404 });
    await exchange("agent log stream", "get", `${A}/logs/stream`, { upgrade: true, query: { after: "0" }, expect: 101 });
    await exchange("agent metrics", "get", `${A}/metrics`, { expect: 200 });

    // Git.
    await exchange("git refs", "get", `${A}/git/info/refs`, { query: { service: "git-upload-pack" }, expect: 200 });
    await exchange("git refs, push", "get", `${A}/git/info/refs`, { query: { service: "git-receive-pack" }, expect: 200 });
    await exchange("git refs, other service", "get", `${A}/git/info/refs`, { query: { service: "git-foo" }, expect: 403 });
    const gitAnon = await exchange("git refs, no token", "get", `${A}/git/info/refs`, { query: { service: "git-upload-pack" }, auth: false, expect: 401 });
    report(gitAnon?.headers["www-authenticate"] === 'Basic realm="agent-gateway"', "git's 401 asks for Basic credentials");
    await exchange("upload-pack, empty negotiation", "post", `${A}/git/git-upload-pack`, { headers: { "Content-Type": "application/x-git-upload-pack-request" }, body: Buffer.from("0000"), expect: 200 });
    await exchange("upload-pack, wrong type", "post", `${A}/git/git-upload-pack`, { headers: { "Content-Type": "text/plain" }, body: Buffer.from("0000"), expect: 415 });
    await exchange("receive-pack, no commands", "post", `${A}/git/git-receive-pack`, { headers: { "Content-Type": "application/x-git-receive-pack-request" }, body: Buffer.from("0000"), expect: 200 });
    await exchange("receive-pack, wrong type", "post", `${A}/git/git-receive-pack`, { headers: { "Content-Type": "text/plain" }, body: Buffer.from("0000"), expect: 415 });

    // Snapshots.
    const synced = await exchange("snapshot now", "post", `${A}/snapshots/sync`, { expect: 200 });
    await exchange("snapshot again, nothing changed", "post", `${A}/snapshots/sync`, { expect: 200 });
    await exchange("snapshot status", "get", `${A}/snapshots/sync`, { expect: 200 });
    await exchange("snapshots", "get", `${A}/snapshots`, { expect: 200 });
    const cid = json(synced).snapshotCid ?? "none";
    await exchange("snapshot CAR", "get", `${A}/snapshots/{cid}/car`, { params: { cid }, expect: 200 });
    await exchange("snapshot CAR, not a CID", "get", `${A}/snapshots/{cid}/car`, { params: { cid: "not-a-cid" }, expect: 400 });
    await exchange("reset", "post", `${A}/snapshots/reset`, { body: { snapshotCid: cid }, expect: 200 });
    await exchange("reset, not a CID", "post", `${A}/snapshots/reset`, { body: { snapshotCid: "nope" }, expect: 400 });
    await exchange("reset, unknown", "post", `${A}/snapshots/reset`, { body: { snapshotCid: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG" }, expect: 404 });

    // Path routes and domains.
    await exchange("path routes", "get", `${A}/port-forwarding`, { expect: 200 });
    await exchange("path routes, replaced", "put", `${A}/port-forwarding`, { body: { mappings: [{ port: 3000, pathPrefix: "/app" }, { port: 3001, pathPrefix: "/pub", protected: false }] }, expect: 200 });
    await exchange("path routes, bad prefix", "put", `${A}/port-forwarding`, { body: { mappings: [{ port: 3000, pathPrefix: "/v0/x" }] }, expect: 400 });
    await exchange("path routes, cleared", "put", `${A}/port-forwarding`, { body: { mappings: null }, expect: 200 });
    await exchange("domains", "get", `${A}/domains`, { expect: 200 });
    const added = await exchange("domain added", "post", `${A}/domains`, { body: { subdomain: "shop", targetPort: 3001 }, expect: 200 });
    await exchange("domain twice", "post", `${A}/domains`, { body: { subdomain: "shop", targetPort: 3002 }, expect: 409 });
    await exchange("domain, both names", "post", `${A}/domains`, { body: { subdomain: "a", customDomain: "a.example", targetPort: 3002 }, expect: 400 });
    await exchange("domain challenge", "post", `${A}/domains/challenge`, { body: { domain: "shop.example" }, expect: 200 });
    const domainId = json(added).domain?.id ?? "none";
    await exchange("domain changed", "put", `${A}/domains/{domainId}`, { params: { domainId }, body: { targetPort: 3005, protected: false }, expect: 200 });
    await exchange("domain verify, a subdomain", "post", `${A}/domains/{domainId}/verify`, { params: { domainId }, expect: 400 });
    await exchange("domain removed", "delete", `${A}/domains/{domainId}`, { params: { domainId }, expect: 200 });
    await exchange("domain unknown", "delete", `${A}/domains/{domainId}`, { params: { domainId }, expect: 404 });

    // Tasks.
    const job = await exchange("task created", "post", `${A}/tasks`, {
        body: { name: "echo", schedule: { kind: "every", everyMs: 3600000 }, payload: { kind: "command", command: "echo task" }, delivery: { mode: "none" } }, expect: 201,
    });
    await exchange("task, short form", "post", `${A}/tasks`, { body: { id: "morning", name: "morning", prompt: "Good morning", schedule: "0 9 * * *", enabled: false, model: { primary: "m" } }, expect: 201 });
    await exchange("task, same id", "post", `${A}/tasks`, { body: { id: "morning", name: "again", prompt: "x", schedule: "0 9 * * *" }, expect: 409 });
    await exchange("task, no schedule", "post", `${A}/tasks`, { body: { name: "x", payload: { kind: "command", command: "true" } }, expect: 400 });
    await exchange("task, at", "post", `${A}/tasks`, { body: { name: "later", schedule: { kind: "at", at: "2099-01-01T00:00:00Z" }, payload: { kind: "systemEvent", text: "wake" } }, expect: 201 });
    await exchange("tasks", "get", `${A}/tasks`, { query: { includeDisabled: "true" }, expect: 200 });
    await exchange("tasks, bad flag", "get", `${A}/tasks`, { query: { includeDisabled: "maybe" }, expect: 400 });
    const jobId = json(job).id ?? "none";
    await exchange("task", "get", `${A}/tasks/{jobId}`, { params: { jobId }, expect: 200 });
    await exchange("task unknown", "get", `${A}/tasks/{jobId}`, { params: { jobId: "no-such-job" }, expect: 404 });
    await exchange("task changed", "put", `${A}/tasks/{jobId}`, { params: { jobId }, body: { description: "says hello", schedule: { kind: "cron", expr: "*/5 * * * *", tz: "UTC" } }, expect: 200 });
    await exchange("task, bad change", "put", `${A}/tasks/{jobId}`, { params: { jobId }, body: { schedule: { kind: "every", everyMs: 5 } }, expect: 400 });
    await exchange("task run", "post", `${A}/tasks/{jobId}/run`, { params: { jobId }, expect: 200 });
    await exchange("task toggled", "post", `${A}/tasks/{jobId}/toggle`, { params: { jobId }, body: { enabled: false }, expect: 200 });
    await exchange("task toggle, bad", "post", `${A}/tasks/{jobId}/toggle`, { params: { jobId }, body: { enabled: "no" }, expect: 400 });
    await exchange("task runs", "get", `${A}/tasks/{jobId}/runs`, { params: { jobId }, query: { limit: "10" }, expect: 200 });
    await exchange("task runs, bad limit", "get", `${A}/tasks/{jobId}/runs`, { params: { jobId }, query: { limit: "0" }, expect: 400 });
    await exchange("task deleted", "delete", `${A}/tasks/{jobId}`, { params: { jobId }, expect: 200 });
    await exchange("task deleted twice", "delete", `${A}/tasks/{jobId}`, { params: { jobId }, expect: 404 });

    // The engine's settings.
    await exchange("engine config", "get", `${A}/config`, { expect: 200 });
    await exchange("engine config written", "put", `${A}/config`, { body: { config: { channels: { telegram: { botToken: "123456:ABCDEFGHIJKLMNOP", enabled: true } }, gateway: { port: 18790 } } }, expect: 200 });
    await exchange("engine config, both", "put", `${A}/config`, { body: { config: {}, raw: "{}" }, expect: 400 });
    await exchange("engine config, raw", "put", `${A}/config`, { body: { raw: '{"channels":{"telegram":{"botToken":"123456:ABCDEFGHIJKLMNOP"}}}' }, expect: 200 });
    await exchange("config check, on disk", "post", `${A}/config/validate`, { expect: 200 });
    await exchange("config check, broken text", "post", `${A}/config/validate`, { body: { config: "{ not json" }, expect: 200 });
    await exchange("config check, wrong type", "post", `${A}/config/validate`, { body: { config: 5 }, expect: 400 });
    await exchange("channels", "get", `${A}/channels`, { expect: 200 });
    await exchange("channel set", "post", `${A}/channels/{channel}`, { params: { channel: "discord" }, query: { skipRestart: "true" }, body: { botToken: "discord-token-0123456789", dmPolicy: "pairing", allowFrom: ["me"] }, expect: 200 });
    await exchange("channel, unsupported", "post", `${A}/channels/{channel}`, { params: { channel: "fax" }, body: {}, expect: 400 });
    await exchange("channel removed", "delete", `${A}/channels/{channel}`, { params: { channel: "discord" }, query: { skipRestart: "true" }, expect: 200 });
    await exchange("channel, not there", "delete", `${A}/channels/{channel}`, { params: { channel: "slack" }, expect: 200 });
    await exchange("devices", "get", `${A}/devices`, { expect: 200 });
    await exchange("devices approved", "post", `${A}/devices/approve-all`, { expect: 200 });
    await exchange("device approved", "post", `${A}/devices/{requestId}/approve`, { params: { requestId: "r-1" }, expect: 200 });
    await exchange("device, CLI refuses", "post", `${A}/devices/{requestId}/approve`, { params: { requestId: "r-fail" }, expect: 500 });
    await exchange("device, bad id", "post", `${A}/devices/{requestId}/approve`, { params: { requestId: "-x" }, expect: 400 });

    // The control plane's routes.
    for (const { path, method } of operations.filter(({ op }) => op.tags?.includes("control-plane")))
        await exchange("control plane", method, path, { params: { secretId: "s1", skillId: "k1" }, body: method === "post" ? {} : undefined, expect: 501 });

    // Wrong tokens, last: from the 21st within 60 s the address is refused (the right token still works).
    let limited;
    for (let i = 0; i < 21; i++) limited = await call("get", "/v0/agents/local", { headers: { Authorization: "Bearer wrong-token" } });
    report(limited.status === 429, `the 21st wrong token is refused with 429 (got ${limited.status})`);
    await exchange("wrong token, limited", "get", `${A}/tasks`, { auth: false, headers: { Authorization: "Bearer wrong-token" }, expect: 429 });
    await exchange("right token, still", "get", `${A}/tasks`, { expect: 200 });

    const missed = operations.map(({ path, method }) => `${method} ${path}`).filter((k) => !exercised.has(k));
    report(missed.length === 0, `every documented operation was called (${exercised.size} of ${operations.length})`, missed);
} catch (e) {
    report(false, "the exchanges ran to the end", [String(e?.stack ?? e)]);
} finally {
    await stopDaemon();
    if (tally.failed) console.log(daemonLog.split("\n").filter((l) => / (warn|error) /.test(l)).slice(-20).map((l) => `# daemon: ${l}`).join("\n"));
    rmSync(work, { recursive: true, force: true });
}
finish();
