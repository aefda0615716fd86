// The console page (docs/api.md §20): one module, no framework. Every action is a call of the agent's own API
// (docs/api.md), made with the HttpOnly cookie that ?token= set: this script never sees the token.

const base = location.pathname.replace(/\/ui\/.*$/, ""); // /v0/agents/{agentId}
const wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base;
const nonce = document.querySelector('meta[name="csp-nonce"]').content;

// xterm.js adds <style> elements for its theme and sizes; the page's policy admits only those carrying this
// answer's nonce, set here before they are inserted.
const createElement = Document.prototype.createElement;
Document.prototype.createElement = function (name, options) {
  const el = createElement.call(this, name, options);
  if (String(name).toLowerCase() === "style") el.setAttribute("nonce", nonce);
  return el;
};

// ---- small helpers ----------------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c);
  return el;
}

function toast(message, bad = false) {
  const el = h("div", { class: bad ? "bad" : "", text: message });
  document.getElementById("toast").append(el);
  setTimeout(() => el.remove(), bad ? 8000 : 4000);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    if (body instanceof Blob || typeof body === "string") init.body = body;
    else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (res.status === 401) showSignin();
  if (!res.ok) throw new ApiError(res.status, (json && json.error) || `${res.status} ${res.statusText}`);
  return json;
}

// Runs an action and reports its outcome; buttons stay disabled while it runs.
async function act(button, what, fn) {
  if (button) button.disabled = true;
  try {
    const r = await fn();
    if (what) toast(what);
    return r;
  } catch (e) {
    toast(e.message, true);
  } finally {
    if (button) button.disabled = false;
  }
}

const q = (params) => new URLSearchParams(params).toString();
const when = (v) => (v ? new Date(v).toLocaleString() : "—");
const bytes = (n) =>
  n == null ? "" : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;

// A header ending in "*" names a column that a phone's width leaves out (its cells have class "wide").
function table(headers, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "muted", text: empty });
  const th = (t) => h("th", { scope: "col", class: t.endsWith("*") ? "wide" : null, text: t.replace(/\*$/, "") });
  return h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, headers.map(th))), h("tbody", {}, rows)));
}

function field(label, input) {
  if (!input.id) input.id = "f-" + Math.random().toString(36).slice(2);
  return [h("label", { for: input.id, text: label }), input];
}

function unavailable(panel, e) {
  panel.replaceChildren(h("p", { class: "muted", text: e.message }));
}

function showSignin() {
  document.getElementById("signin").hidden = false;
  for (const p of document.querySelectorAll('[role="tabpanel"]')) p.hidden = true;
}

// ---- tabs -------------------------------------------------------------------------------------------------

const tabs = {};
let current = null;

function select(name, focus = false) {
  if (!tabs[name]) name = "overview";
  for (const b of document.querySelectorAll('[role="tab"]')) {
    const on = b.dataset.tab === name;
    b.setAttribute("aria-selected", on);
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  for (const p of document.querySelectorAll('[role="tabpanel"]')) p.hidden = p.id !== "panel-" + name;
  if (current && tabs[current].leave) tabs[current].leave();
  current = name;
  if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  tabs[name].show(document.getElementById("panel-" + name));
}

function setupTabs() {
  const buttons = [...document.querySelectorAll('[role="tab"]')];
  for (const b of buttons) {
    b.addEventListener("click", () => select(b.dataset.tab));
    b.addEventListener("keydown", (e) => {
      const i = buttons.indexOf(b);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      select(buttons[(next + buttons.length) % buttons.length].dataset.tab, true);
    });
  }
  window.addEventListener("hashchange", () => select(location.hash.slice(1)));
}

// ---- overview ---------------------------------------------------------------------------------------------

async function refreshHeader() {
  const d = await api("GET", "");
  document.getElementById("agent-name").textContent = d.agent.name || d.agent.agentId;
  document.title = `${d.agent.name || d.agent.agentId} · agent-gateway`;
  const badge = document.getElementById("engine-state");
  badge.textContent = `engine ${d.processStatus}`;
  badge.className = "badge " + (d.processStatus === "running" ? "ok" : d.processStatus === "not_running" ? "bad" : "");
  return d;
}

tabs.overview = {
  async show(panel) {
    let d;
    try {
      d = await refreshHeader();
    } catch (e) {
      return unavailable(panel, e);
    }
    const facts = [
      ["Agent", d.agent.agentId],
      ["Name", d.agent.name],
      ["Engine", d.agent.engine],
      ["Engine process", `${d.processStatus}${d.processId ? " (pid " + d.processId + ")" : ""}`],
      ["Created", when(d.agent.createdAt)],
      ["Last sync", when(d.agent.lastSync)],
      ["Snapshot", d.agent.snapshotCid || "—"],
      ["Build script", d.scripts?.build ?? "—"],
      ["Start script", d.scripts?.start ?? "—"],
      ["Tasks", d.tasks ? `${d.tasks.enabled} enabled of ${d.tasks.jobs}, next ${when(d.tasks.nextRunAt)}` : "—"],
      ["Skills", (d.skills || []).map((s) => s.name).join(", ") || "—"],
      ["Path routes", (d.portForwarding || []).map((m) => `${m.pathPrefix} → ${m.port}`).join(", ") || "—"],
      ["Git remote", `git clone ${location.protocol}//x:TOKEN@${location.host}${base}/git`],
    ];
    const restart = h("button", { text: "Restart engine" });
    restart.addEventListener("click", () => {
      if (!confirm("Restart the engine now?")) return;
      act(restart, "Engine restarting", () => api("POST", "/restart")).then(() => this.show(panel));
    });
    const retry = h("button", { text: "Retry scripts" });
    retry.addEventListener("click", () => act(retry, "Scripts started again", () => api("POST", "/scripts/retry")));
    const refresh = h("button", { text: "Refresh", onclick: () => this.show(panel) });
    panel.replaceChildren(
      h("h2", { text: "Overview" }),
      h("div", { class: "card" }, h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v ?? "—") })]))),
      h("div", { class: "row" }, restart, retry, refresh),
    );
    // bench/ui reads these marks: the time until the first tab is usable, and the terminal's.
    if (!performance.getEntriesByName("console-ready").length) performance.mark("console-ready");
  },
};

// ---- logs -------------------------------------------------------------------------------------------------

const levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

tabs.logs = {
  lastSeq: null,
  ws: null,
  built: false,
  show(panel) {
    if (!this.built) this.build(panel);
    this.connect();
  },
  build(panel) {
    this.built = true;
    this.level = h("select", {}, levels.map((l) => h("option", { value: l, text: l, selected: l === "TRACE" })));
    this.search = h("input", { type: "search", placeholder: "text in the message" });
    this.status = h("span", { class: "muted", role: "status" });
    this.list = h("div", { class: "log", role: "log", "aria-label": "Log entries" });
    this.level.addEventListener("change", () => this.filter());
    this.search.addEventListener("input", () => this.filter());
    panel.replaceChildren(
      h("h2", { text: "Logs" }),
      h("div", { class: "row" }, field("Level at least", this.level), field("Search", this.search), this.status),
      this.list,
    );
  },
  visible(row) {
    const min = levels.indexOf(this.level.value);
    const needle = this.search.value.toLowerCase();
    return levels.indexOf(row.dataset.level) >= min && (!needle || row.textContent.toLowerCase().includes(needle));
  },
  filter() {
    for (const row of this.list.children) row.classList.toggle("hidden", !this.visible(row));
  },
  add(entry) {
    if (entry.seq !== undefined) this.lastSeq = entry.seq;
    const level = String(entry.level || "INFO").toUpperCase();
    const row = h("div", { class: level, "data-level": level, text: `${entry.timestamp || ""} ${level} [${entry.source || ""}] ${entry.message}` });
    row.classList.toggle("hidden", !this.visible(row));
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    this.list.append(row);
    while (this.list.childElementCount > 2000) this.list.firstElementChild.remove();
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  },
  // The stream resumes after the last entry seen, so a reconnect neither repeats nor loses one (§7).
  connect() {
    if (this.ws) return;
    const params = this.lastSeq === null ? "" : "?" + q({ after: this.lastSeq });
    const ws = new WebSocket(`${wsBase}/logs/stream${params}`);
    this.ws = ws;
    this.status.textContent = "connecting…";
    ws.onopen = () => (this.status.textContent = "live");
    ws.onmessage = (m) => {
      try {
        this.add(JSON.parse(m.data));
      } catch {
        /* not an entry */
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.status.textContent = "disconnected, reconnecting…";
      this.retry = setTimeout(() => this.connect(), 2000);
    };
  },
  leave() {
    clearTimeout(this.retry);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
  },
};

// ---- terminal ---------------------------------------------------------------------------------------------

tabs.terminal = {
  term: null,
  session: null,
  position: 0,
  ws: null,
  async show(panel) {
    if (!this.term) await this.build(panel);
    this.fit.fit();
    this.listSessions();
    if (!this.ws && !this.ended) this.connect();
    this.term.focus();
  },
  async build(panel) {
    // xterm.js loads with the tab, not with the page.
    document.head.append(h("link", { rel: "stylesheet", href: "xterm.css" }));
    const [{ Terminal }, { FitAddon }] = await Promise.all([import("./xterm.mjs"), import("./addon-fit.mjs")]);
    this.status = h("span", { class: "muted", role: "status" });
    this.sessions = h("div");
    const box = h("div", { id: "terminal" });
    const fresh = h("button", { text: "New terminal", onclick: () => this.attach(null) });
    const int = h("button", { text: "Send Ctrl-C", onclick: () => this.send({ type: "signal", signal: "INT" }) });
    panel.replaceChildren(h("h2", { text: "Terminal" }), h("div", { class: "row" }, fresh, int, this.status), box,
      h("h3", { text: "Sessions" }), this.sessions);
    this.term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000 });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(box);
    this.fit.fit();
    performance.mark("terminal-ready");
    const encoder = new TextEncoder();
    this.term.onData((d) => this.ws?.readyState === 1 && this.ws.send(encoder.encode(d)));
    this.term.onBinary((d) => this.ws?.readyState === 1 && this.ws.send(Uint8Array.from(d, (c) => c.charCodeAt(0))));
    this.term.onResize(({ cols, rows }) => this.send({ type: "resize", cols, rows }));
    window.addEventListener("resize", () => current === "terminal" && this.fit.fit());
  },
  send(obj) {
    if (this.ws?.readyState === 1) this.ws.send(JSON.stringify(obj));
  },
  attach(id) {
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.session = id;
    this.position = 0;
    this.ended = false;
    this.term.reset();
    this.connect();
  },
  // A reconnect asks for the bytes after the last one shown: nothing is lost, nothing shown twice (§17).
  connect() {
    const params = { cols: this.term.cols, rows: this.term.rows };
    if (this.session) Object.assign(params, { session: this.session, after: this.position });
    const ws = new WebSocket(`${wsBase}/console/pty?${q(params)}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.status.textContent = "connecting…";
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") {
        this.position += m.data.byteLength;
        this.term.write(new Uint8Array(m.data));
        return;
      }
      const msg = JSON.parse(m.data);
      if (msg.type === "session") {
        this.session = msg.id;
        this.position = msg.offset;
        this.status.textContent = `session ${msg.id}`;
        this.listSessions();
      } else if (msg.type === "gap") {
        this.term.write(`\r\n\x1b[33m[${msg.to - msg.from} bytes were not kept]\x1b[0m\r\n`);
        this.position = msg.to;
      } else if (msg.type === "exit") {
        this.ended = true;
        this.term.write(`\r\n\x1b[2m[exited with ${msg.exitCode}]\x1b[0m\r\n`);
        this.status.textContent = "ended";
        this.listSessions();
      } else if (msg.type === "error") toast(msg.message, true);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.ended) return;
      this.status.textContent = "disconnected, reconnecting…";
      this.retry = setTimeout(() => current === "terminal" && !this.ws && this.connect(), 1500);
    };
  },
  async listSessions() {
    let list;
    try {
      list = (await api("GET", "/console/sessions")).sessions;
    } catch (e) {
      return unavailable(this.sessions, e);
    }
    const rows = list.map((s) => {
      const attach = h("button", { text: s.id === this.session ? "Attached" : "Attach", disabled: s.id === this.session, onclick: () => this.attach(s.id) });
      const end = h("button", { class: "danger", text: "End" });
      end.addEventListener("click", () => act(end, "Session ended", () => api("DELETE", `/console/sessions/${s.id}`)).then(() => this.listSessions()));
      return h("tr", {}, h("td", { class: "mono", text: s.id }), h("td", { text: s.command }), h("td", { text: s.exited ? `exited ${s.exitCode}` : `running, ${s.attached} attached` }),
        h("td", { class: "wide", text: when(s.createdAt) }), h("td", { class: "actions" }, attach, end));
    });
    this.sessions.replaceChildren(table(["Session", "Command", "State", "Started*", ""], rows, "No sessions."));
  },
  leave() {
    clearTimeout(this.retry);
  },
};

// ---- files ------------------------------------------------------------------------------------------------

const imageTypes = /\.(png|jpe?g|gif|webp|svg|ico|bmp|avif)$/i;

tabs.files = {
  dir: "workspace",
  built: false,
  show(panel) {
    if (!this.built) this.build(panel);
    this.list();
  },
  build(panel) {
    this.built = true;
    this.path = h("input", { value: this.dir, class: "mono", size: 40 });
    this.path.addEventListener("keydown", (e) => e.key === "Enter" && this.go(this.path.value));
    const up = h("button", { text: "Up", onclick: () => this.go(this.dir.replace(/\/?[^/]*\/?$/, "") || "/") });
    const upload = h("input", { type: "file", multiple: true });
    upload.addEventListener("change", () => this.upload(upload));
    this.format = h("select", {}, ["tar.gz", "zip", "tar"].map((f) => h("option", { value: f, text: f })));
    this.archive = h("a", { text: "Download folder" });
    this.watchBox = h("input", { type: "checkbox" });
    this.watchBox.addEventListener("change", () => this.watch());
    this.format.addEventListener("change", () => this.updateLinks());
    this.events = h("div", { class: "muted", role: "status", "aria-live": "polite" });
    this.entries = h("div");
    this.preview = h("div");
    panel.replaceChildren(
      h("h2", { text: "Files" }),
      h("div", { class: "row" }, field("Folder", this.path), h("button", { text: "Open", onclick: () => this.go(this.path.value) }), up),
      h("div", { class: "row" }, field("Upload", upload), field("Archive", this.format), this.archive, field("Watch", this.watchBox), this.events),
      this.entries,
      this.preview,
    );
  },
  file(path) {
    return `${base}/files?${q({ path })}`;
  },
  child(name) {
    return this.dir.replace(/\/$/, "") + "/" + name;
  },
  go(dir) {
    this.dir = dir;
    this.path.value = dir;
    this.preview.replaceChildren();
    this.list();
    if (this.watchBox.checked) this.watch();
  },
  updateLinks() {
    this.archive.href = `${base}/files/archive?${q({ path: this.dir, format: this.format.value })}`;
    this.archive.download = (this.dir.split("/").filter(Boolean).pop() || "root") + "." + this.format.value;
  },
  async list() {
    this.updateLinks();
    let d;
    try {
      d = await api("GET", `/files?${q({ path: this.dir })}`);
    } catch (e) {
      return unavailable(this.entries, e);
    }
    if (!d || !d.entries) return this.entries.replaceChildren(h("p", { class: "muted", text: "Not a folder." }));
    const rows = d.entries.map((e) => {
      const path = this.child(e.name);
      const isDir = e.type === "dir";
      const name = h("button", { class: "link", text: isDir ? e.name + "/" : e.name, onclick: () => (isDir ? this.go(path) : this.open(path)) });
      const del = h("button", { class: "danger", text: "Delete" });
      del.addEventListener("click", () => {
        if (!confirm(`Delete ${path}${isDir ? " and everything in it" : ""}?`)) return;
        act(del, `Deleted ${e.name}`, () => api("DELETE", `/files?${q({ path, recursive: isDir })}`)).then(() => this.list());
      });
      const download = isDir ? null : h("a", { href: this.file(path), download: e.name, text: "Download" });
      const rename = h("button", { text: "Rename" });
      rename.addEventListener("click", () => {
        const to = prompt(`Rename ${e.name} to`, e.name);
        if (!to || to === e.name) return;
        act(rename, `Renamed to ${to}`, () => api("POST", "/files/move", { from: path, to: this.child(to) })).then(() => this.list());
      });
      return h("tr", {}, h("td", {}, name), h("td", { text: isDir ? "" : bytes(e.size) }), h("td", { class: "wide", text: when(e.mtime) }),
        h("td", { class: "actions" }, download, " ", rename, del));
    });
    this.entries.replaceChildren(table(["Name", "Size", "Modified*", ""], rows, "An empty folder."), d.truncated ? h("p", { class: "muted", text: "Only the first 10,000 entries are shown." }) : "");
  },
  async open(path) {
    const title = h("h3", { text: path });
    if (imageTypes.test(path)) return this.preview.replaceChildren(title, h("img", { class: "preview", src: this.file(path), alt: path }));
    const res = await fetch(this.file(path), { headers: { Range: "bytes=0-262143" }, credentials: "same-origin" });
    if (!res.ok && res.status !== 206) return this.preview.replaceChildren(title, h("p", { class: "bad", text: `${res.status} ${res.statusText}` }));
    const buf = new Uint8Array(await res.arrayBuffer());
    let text;
    try {
      if (buf.includes(0)) throw new Error("binary");
      text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
    } catch {
      return this.preview.replaceChildren(title, h("p", { class: "muted", text: "A binary file: download it to look inside." }));
    }
    this.preview.replaceChildren(title, h("pre", { class: "out", text }), res.status === 206 && buf.length === 262144 ? h("p", { class: "muted", text: "The first 256 KiB." }) : "");
  },
  // Each file goes up as its raw bytes (§19 PUT), never replacing a file without asking.
  async upload(input) {
    for (const f of input.files) {
      const path = this.child(f.name);
      try {
        await api("PUT", `/files?${q({ path })}`, f, { "If-None-Match": "*" });
        toast(`Uploaded ${f.name}`);
      } catch (e) {
        if (e.status === 412 && confirm(`${f.name} exists. Replace it?`)) await act(null, `Replaced ${f.name}`, () => api("PUT", `/files?${q({ path })}`, f));
        else if (e.status !== 412) toast(`${f.name}: ${e.message}`, true);
      }
    }
    input.value = "";
    this.list();
  },
  watch() {
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.close();
    }
    if (!this.watchBox.checked) return (this.events.textContent = "");
    const ws = new WebSocket(`${wsBase}/files/watch?${q({ path: this.dir, recursive: false })}`);
    this.ws = ws;
    this.events.textContent = "connecting…"; // "watching" once the daemon has placed the watch (the 101)
    ws.onopen = () => (this.events.textContent = "watching");
    ws.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      this.events.textContent = ev.type === "overflow" ? "many changes" : `${ev.type} ${ev.path}`;
      clearTimeout(this.relist);
      this.relist = setTimeout(() => this.list(), 250);
    };
    ws.onclose = () => {
      if (this.ws === ws) {
        this.ws = null;
        this.events.textContent = "not watching";
        this.watchBox.checked = false;
      }
    };
  },
  leave() {
    this.watchBox.checked = false;
    this.watch();
  },
};

// ---- snapshots --------------------------------------------------------------------------------------------

tabs.snapshots = {
  async show(panel) {
    let list, status;
    try {
      [list, status] = await Promise.all([api("GET", "/snapshots"), api("GET", "/snapshots/sync")]);
    } catch (e) {
      return unavailable(panel, e);
    }
    const sync = h("button", { class: "primary", text: "Sync now" });
    sync.addEventListener("click", () => act(sync, "Synced", () => api("POST", "/snapshots/sync")).then(() => this.show(panel)));
    const rows = list.snapshots.map((s) => {
      const reset = h("button", { class: "danger", text: "Reset to this" });
      reset.addEventListener("click", () => {
        if (!confirm(`Reset the workspace to ${s.snapshotCid}? Changes since the last sync are lost.`)) return;
        act(reset, "Workspace reset", () => api("POST", "/snapshots/reset", { snapshotCid: s.snapshotCid })).then(() => this.show(panel));
      });
      const car = h("a", { href: `${base}/snapshots/${s.snapshotCid}/car`, download: `${s.snapshotCid}.car`, text: "CAR" });
      return h("tr", {}, h("td", { class: "mono", text: s.snapshotCid }), h("td", { class: "mono wide", text: (s.commitSha || "").slice(0, 12) }),
        h("td", { text: s.changeSummary || "" }), h("td", { class: "wide", text: when(s.createdAt) }), h("td", { class: "actions" }, car, " ", reset));
    });
    panel.replaceChildren(
      h("h2", { text: "Snapshots" }),
      h("div", { class: "card" }, h("dl", { class: "facts" }, [
        [h("dt", { text: "Last sync" }), h("dd", { text: when(status.lastSync) })],
        [h("dt", { text: "State" }), h("dd", { text: status.message || (status.configured ? "configured" : "not configured") })],
      ])),
      h("div", { class: "row" }, sync),
      table(["CID", "Commit*", "Changes", "Taken*", ""], rows, "No snapshots yet: sync to take one."),
    );
  },
};

// ---- processes --------------------------------------------------------------------------------------------

tabs.processes = {
  async show(panel) {
    this.panel = panel;
    let list;
    try {
      list = (await api("GET", "/processes")).processes;
    } catch (e) {
      return unavailable(panel, e);
    }
    const command = h("input", { class: "mono", size: 36, placeholder: "npm run dev", required: true });
    const name = h("input", { size: 12 });
    const restart = h("select", {}, ["never", "on-failure", "always"].map((r) => h("option", { value: r, text: r })));
    const start = h("button", { class: "primary", type: "submit", text: "Start" });
    const form = h("form", { class: "row" }, field("Command", command), field("Name", name), field("Restart", restart), start);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { command: command.value, restart: restart.value };
      if (name.value) body.name = name.value;
      act(start, "Started", () => api("POST", "/processes", body)).then(() => this.show(panel));
    });
    this.output = this.output || h("div");
    const rows = list.map((p) => {
      const out = h("button", { text: "Output", onclick: () => this.follow(p) });
      const signal = h("select", { "aria-label": `Signal for ${p.name || p.id}` }, ["INT", "TERM", "HUP", "KILL", "USR1", "USR2", "STOP", "CONT"].map((s) => h("option", { value: s, text: s })));
      const send = h("button", { text: "Send" });
      send.addEventListener("click", () => act(send, `Sent ${signal.value}`, () => api("POST", `/processes/${p.id}/signal`, { signal: signal.value })).then(() => this.show(panel)));
      const del = h("button", { class: "danger", text: "Remove" });
      del.addEventListener("click", () => confirm(`End and forget ${p.name || p.id}?`) && act(del, "Removed", () => api("DELETE", `/processes/${p.id}`)).then(() => this.show(panel)));
      const state = p.status + (p.exitCode != null && p.status !== "running" ? ` (${p.exitCode})` : "") + (p.oomKilled ? ", out of memory" : "") + (p.restarts ? `, ${p.restarts} restarts` : "");
      return h("tr", {}, h("td", { text: p.name || p.id }), h("td", { class: "mono", text: p.command }), h("td", { text: state }),
        h("td", { class: "wide", text: when(p.startedAt) }), h("td", { class: "actions" }, out, " ", signal, send, " ", del));
    });
    panel.replaceChildren(h("h2", { text: "Processes" }), form, table(["Name", "Command", "State", "Started*", ""], rows, "No processes."), this.output);
  },
  // The output as NDJSON (§18), followed live; where it left off is kept, so a second look starts there.
  async follow(p) {
    this.stop();
    const pre = h("pre", { class: "out", "aria-label": `Output of ${p.name || p.id}` });
    const input = h("input", { class: "mono", size: 30 });
    const send = h("button", { text: "Send line" });
    send.addEventListener("click", () => act(send, null, () => api("POST", `/processes/${p.id}/input`, { data: input.value + "\n" })).then(() => (input.value = "")));
    this.output.replaceChildren(h("h3", { text: `Output of ${p.name || p.id}` }), pre, h("div", { class: "row" }, field("Input", input), send));
    const abort = new AbortController();
    this.abort = abort;
    try {
      const res = await fetch(`${base}/processes/${p.id}/output?${q({ after: 0, follow: true })}`, { signal: abort.signal, credentials: "same-origin" });
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += value;
        const lines = pending.split("\n");
        pending = lines.pop();
        for (const line of lines) {
          if (!line) continue;
          const m = JSON.parse(line);
          if (m.type === "gap") pre.append(`[${m.to - m.from} bytes not kept]\n`);
          else if (m.type === "exit") {
            pre.append(`[exited ${m.exitCode}${m.signal ? ", signal " + m.signal : ""}]\n`);
            if (current === "processes") this.show(this.panel); // its state in the list
          }
          else pre.append(m.data);
        }
        pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      if (e.name !== "AbortError") toast(e.message, true);
    }
  },
  stop() {
    if (this.abort) this.abort.abort();
    this.abort = null;
  },
  leave() {
    this.stop();
  },
};

// ---- tasks ------------------------------------------------------------------------------------------------

const scheduleText = (s) => (typeof s === "string" ? s : s.kind === "cron" ? s.expr + (s.tz ? ` (${s.tz})` : "") : s.kind === "every" ? `every ${s.everyMs / 60000} min` : `at ${when(s.at)}`);

tabs.tasks = {
  async show(panel) {
    let jobs;
    try {
      jobs = (await api("GET", "/tasks")).jobs;
    } catch (e) {
      return unavailable(panel, e);
    }
    const name = h("input", { required: true, size: 14 });
    const schedule = h("input", { class: "mono", value: "0 9 * * *", required: true, size: 12 });
    const kind = h("select", {}, h("option", { value: "agentTurn", text: "message to the engine" }), h("option", { value: "command", text: "shell command" }));
    const what = h("input", { required: true, size: 30 });
    const create = h("button", { class: "primary", type: "submit", text: "Create" });
    const form = h("form", { class: "row" }, field("Name", name), field("Cron", schedule), field("Does", kind), field("Text", what), create);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const payload = kind.value === "command" ? { kind: "command", command: what.value } : { kind: "agentTurn", message: what.value };
      act(create, "Task created", () => api("POST", "/tasks", { name: name.value, schedule: { kind: "cron", expr: schedule.value }, payload, enabled: true })).then(() => this.show(panel));
    });
    this.history = this.history || h("div");
    const rows = jobs.map((j) => {
      const run = h("button", { text: "Run now" });
      run.addEventListener("click", () => act(run, null, () => api("POST", `/tasks/${j.id}/run`, {})).then((r) => r && toast(`${j.name}: ${r.status}${r.error ? " — " + r.error : ""}`, r.status === "error")).then(() => this.show(panel)));
      const toggle = h("button", { text: j.enabled ? "Disable" : "Enable" });
      toggle.addEventListener("click", () => act(toggle, null, () => api("POST", `/tasks/${j.id}/toggle`, { enabled: !j.enabled })).then(() => this.show(panel)));
      const runs = h("button", { text: "History", onclick: () => this.runs(j) });
      const del = h("button", { class: "danger", text: "Delete" });
      del.addEventListener("click", () => confirm(`Delete the task ${j.name}?`) && act(del, "Deleted", () => api("DELETE", `/tasks/${j.id}`)).then(() => this.show(panel)));
      return h("tr", {}, h("td", { text: j.name }), h("td", { class: "mono", text: scheduleText(j.schedule) }), h("td", { text: j.enabled ? "on" : "off" }),
        h("td", { class: "wide", text: when(j.state.nextRunAtMs) }), h("td", { text: j.state.lastStatus || "—" }), h("td", { class: "actions" }, run, toggle, runs, del));
    });
    panel.replaceChildren(h("h2", { text: "Tasks" }), form, table(["Name", "Schedule", "Enabled", "Next run*", "Last", ""], rows, "No tasks."), this.history);
  },
  async runs(j) {
    const r = await act(null, null, () => api("GET", `/tasks/${j.id}/runs?limit=20`));
    if (!r) return;
    const rows = r.runs.map((x) => h("tr", {}, h("td", { text: when(x.startedAt) }), h("td", { text: x.trigger }), h("td", { class: x.status === "error" ? "bad" : "", text: x.status }),
      h("td", { text: `${x.durationMs} ms` }), h("td", {}, h("pre", { class: "out", text: x.error || x.output || "" }))));
    this.history.replaceChildren(h("h3", { text: `Runs of ${j.name}` }), table(["Started", "Trigger", "Status", "Took", "Output"], rows, "Never ran."));
  },
};

// ---- routes and domains -----------------------------------------------------------------------------------

tabs.routes = {
  async show(panel) {
    let maps, domains;
    try {
      [maps, domains] = await Promise.all([api("GET", "/port-forwarding"), api("GET", "/domains")]);
    } catch (e) {
      return unavailable(panel, e);
    }
    const body = h("tbody");
    const addRow = (m = { port: "", pathPrefix: "/", protected: true }) => {
      const port = h("input", { type: "number", min: 1025, max: 65535, value: m.port, "aria-label": "Port", size: 6 });
      const prefix = h("input", { class: "mono", value: m.pathPrefix, "aria-label": "Path prefix", size: 16 });
      const prot = h("input", { type: "checkbox", checked: m.protected, "aria-label": "Needs the token" });
      const tr = h("tr", {}, h("td", {}, prefix), h("td", {}, port), h("td", {}, prot), h("td", {}, h("button", { text: "Remove", onclick: () => tr.remove() })));
      tr.read = () => ({ port: Number(port.value), pathPrefix: prefix.value, protected: prot.checked });
      body.append(tr);
    };
    maps.mappings.forEach((m) => addRow(m));
    const save = h("button", { class: "primary", text: "Save routes" });
    save.addEventListener("click", () => act(save, "Routes saved", () => api("PUT", "/port-forwarding", { mappings: [...body.children].map((tr) => tr.read()) })).then(() => this.show(panel)));
    const routes = h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["Path prefix", "Port", "Protected", ""].map((t) => h("th", { scope: "col", text: t })))), body));

    const rows = domains.domains.map((d) => {
      const verify = d.customDomain ? h("button", { text: "Verify" }) : null;
      verify?.addEventListener("click", () => act(verify, "Verified", () => api("POST", `/domains/${d.id}/verify`)).then(() => this.show(panel)));
      const del = h("button", { class: "danger", text: "Delete" });
      del.addEventListener("click", () => confirm(`Delete ${d.subdomain || d.customDomain}?`) && act(del, "Deleted", () => api("DELETE", `/domains/${d.id}`)).then(() => this.show(panel)));
      return h("tr", {}, h("td", { class: "mono", text: d.subdomain || d.customDomain }), h("td", { text: d.targetPort }), h("td", { text: d.protected ? "yes" : "no" }), h("td", { text: d.status }), h("td", { class: "actions" }, verify, del));
    });
    const dname = h("input", { class: "mono", placeholder: "app or app.example.com", required: true });
    const dport = h("input", { type: "number", min: 1025, max: 65535, required: true, size: 6 });
    const dprot = h("input", { type: "checkbox", checked: true });
    const add = h("button", { type: "submit", text: "Add domain" });
    const form = h("form", { class: "row" }, field("Name", dname), field("Port", dport), field("Protected", dprot), add);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = dname.value.trim();
      const body = { targetPort: Number(dport.value), protected: dprot.checked, [name.includes(".") ? "customDomain" : "subdomain"]: name };
      const r = await act(add, "Domain added", () => api("POST", "/domains", body));
      if (r && name.includes(".")) {
        const c = await act(null, null, () => api("POST", "/domains/challenge", { domain: name }));
        if (c) toast(`Add a TXT record ${c.name} = ${c.value}, then verify`);
      }
      this.show(panel);
    });
    panel.replaceChildren(
      h("h2", { text: "Path routes" }),
      h("p", { class: "muted", text: "A path route serves a local port on this origin; an app you do not trust belongs on a domain instead." }),
      routes,
      h("div", { class: "row" }, h("button", { text: "Add route", onclick: () => addRow() }), save),
      h("h2", { text: "Domains" }),
      table(["Name", "Port", "Protected", "Status", ""], rows, "No domains."),
      form,
    );
  },
};

// ---- engine config ----------------------------------------------------------------------------------------

tabs.config = {
  async show(panel) {
    let c;
    try {
      c = await api("GET", "/config");
    } catch (e) {
      return unavailable(panel, e);
    }
    const text = h("textarea", { class: "config", spellcheck: "false", "aria-label": `The engine config, ${c.format}` });
    text.value = c.raw;
    const out = h("pre", { class: "out", role: "status", text: "" });
    out.hidden = true;
    const validate = h("button", { text: "Validate" });
    validate.addEventListener("click", async () => {
      const r = await act(validate, null, () => api("POST", "/config/validate", { config: text.value }));
      if (!r) return;
      out.hidden = false;
      out.className = "out " + (r.valid ? "ok" : "bad");
      out.textContent = r.valid ? "Valid." + (r.output ? "\n" + r.output : "") : r.output;
    });
    const save = h("button", { class: "primary", text: "Save" });
    save.addEventListener("click", () => act(save, "Config saved", () => api("PUT", "/config", { raw: text.value })));
    const reload = h("button", { text: "Reload", onclick: () => this.show(panel) });
    panel.replaceChildren(
      h("h2", { text: "Engine config" }),
      h("p", { class: "muted mono", text: `${c.path} (${c.format}${c.exists ? "" : ", not written yet"})` }),
      text,
      h("div", { class: "row" }, validate, save, reload),
      out,
    );
  },
};

// ---- channels and devices ---------------------------------------------------------------------------------

tabs.channels = {
  async show(panel) {
    const parts = [h("h2", { text: "Channels" })];
    try {
      const ch = await api("GET", "/channels");
      const rows = Object.entries(ch).filter(([, v]) => v && typeof v === "object").map(([name, v]) => {
        const del = h("button", { class: "danger", text: "Remove", disabled: !v.configured });
        del.addEventListener("click", () => confirm(`Remove ${name}?`) && act(del, `${name} removed`, () => api("DELETE", `/channels/${name}`)).then(() => this.show(panel)));
        return h("tr", {}, h("td", { text: name }), h("td", { text: v.configured ? (v.enabled ? "on" : "off") : "not set up" }), h("td", { class: "mono", text: v.botTokenHint || (v.botTokenSet ? "set" : "—") }),
          h("td", { text: v.dmPolicy || "—" }), h("td", { class: "wide", text: (v.allowFrom || []).join(", ") }), h("td", { class: "actions" }, del));
      });
      const name = h("select", {}, ["telegram", "slack", "discord", "whatsapp"].map((n) => h("option", { value: n, text: n })));
      const token = h("input", { type: "password", autocomplete: "off", placeholder: "keep the stored one" });
      const app = h("input", { type: "password", autocomplete: "off", placeholder: "Slack only" });
      const policy = h("select", {}, ["pairing", "allowlist", "open", "disabled"].map((p) => h("option", { value: p, text: p })));
      const allow = h("input", { placeholder: "ids, comma separated" });
      const save = h("button", { class: "primary", type: "submit", text: "Save channel" });
      const form = h("form", { class: "row" }, field("Channel", name), field("Bot token", token), field("App token", app), field("DM policy", policy), field("Allow from", allow), save);
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const body = { dmPolicy: policy.value, enabled: true };
        if (token.value) body.botToken = token.value;
        if (app.value) body.appToken = app.value;
        if (allow.value.trim()) body.allowFrom = allow.value.split(",").map((s) => s.trim()).filter(Boolean);
        act(save, null, () => api("POST", `/channels/${name.value}`, body)).then((r) => r && (toast(r.message), this.show(panel)));
      });
      parts.push(table(["Channel", "State", "Bot token", "DM policy", "Allowed*", ""], rows), form);
    } catch (e) {
      parts.push(h("p", { class: "muted", text: e.message }));
    }
    parts.push(h("h2", { text: "Devices" }));
    try {
      const d = await api("GET", "/devices");
      const pending = Array.isArray(d?.pending) ? d.pending : [];
      const rows = pending.map((p) => {
        const id = p.requestId || p.id;
        const ok = h("button", { class: "primary", text: "Approve" });
        ok.addEventListener("click", () => act(ok, "Approved", () => api("POST", `/devices/${encodeURIComponent(id)}/approve`)).then(() => this.show(panel)));
        return h("tr", {}, h("td", { class: "mono", text: id }), h("td", { text: p.displayName || p.name || p.platform || "" }), h("td", { class: "actions" }, ok));
      });
      const all = h("button", { text: "Approve all" });
      all.addEventListener("click", () => act(all, null, () => api("POST", "/devices/approve-all")).then((r) => r && (toast(r.message), this.show(panel))));
      parts.push(table(["Request", "Device", ""], rows, "No device is waiting for approval."), h("div", { class: "row" }, all),
        h("details", {}, h("summary", { text: "Everything the engine reported" }), h("pre", { class: "out", text: JSON.stringify(d, null, 2) })));
    } catch (e) {
      parts.push(h("p", { class: "muted", text: e.message }));
    }
    panel.replaceChildren(...parts);
  },
};

// ---- start ------------------------------------------------------------------------------------------------

setupTabs();
select(location.hash.slice(1) || "overview"); // a 401 on its first call shows the sign-in form instead
if (current !== "overview") refreshHeader().catch(() => {}); // the overview fills the header itself
