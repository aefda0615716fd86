// The console page (docs/api.md §20) in Debian's Chromium, driven by playwright-core: the real daemon on a demo
// root, opened by the URL it prints. Every tab must load with no console error (a refused policy, a failed
// request and an uncaught exception all count) and do its main job: typing in the terminal shows the output,
// an upload appears in the file list, a snapshot sync shows up, a process's output arrives, a task runs, the
// config validates, a device is listed. A screenshot per tab (laptop and phone widths) goes to ARTIFACTS.
// Prints the first load's figures (bytes, time until the overview shows) for bench/ui.
//
//   node console_page.mjs AGENT_GATEWAY_BINARY ENGINE_CLI_SCRIPT ARTIFACTS_DIR
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { chromium } from "playwright-core";

import { finish, report, tally } from "../support/tap.mjs";

const [binary, engineCli, artifacts] = process.argv.slice(2).map((a) => a && resolve(a));
if (!binary || !engineCli || !artifacts) {
  console.error("usage: node console_page.mjs AGENT_GATEWAY_BINARY ENGINE_CLI_SCRIPT ARTIFACTS_DIR");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });


// ---- the daemon on a demo root --------------------------------------------------------------------------
const root = mkdtempSync(join(tmpdir(), "ag-ui-"));
mkdirSync(join(root, "workspace/notes"), { recursive: true });
writeFileSync(join(root, "workspace/notes/hello.txt"), "hello from the workspace\n");
// A 1×1 PNG, for the image preview.
writeFileSync(join(root, "workspace/dot.png"), Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64"));
writeFileSync(join(root, "openclaw.json"), '{\n  // the engine\'s config\n  gateway: { port: 18790 },\n}\n');
writeFileSync(join(root, "workspace/manifest.json"), JSON.stringify({ agent: { name: "ui-demo", engine: "openclaw" } }));
chmodSync(engineCli, 0o755);

const daemon = spawn(binary, ["--listen", "127.0.0.1:0", "--root", root, "--snapshot-interval", "0", "--engine-config", join(root, "openclaw.json"), "--engine-cli", engineCli], { stdio: ["ignore", "pipe", "pipe"] });
let daemonLog = "";
daemon.stderr.on("data", (d) => (daemonLog += d));
const url = await new Promise((resolveUrl, reject) => {
  let out = "";
  const timer = setTimeout(() => reject(new Error("the daemon printed no URL within 60 s")), 60000);
  daemon.stdout.on("data", (d) => {
    out += d;
    const m = /agent-gateway: open (\S+)/.exec(out);
    if (m) {
      clearTimeout(timer);
      resolveUrl(m[1]);
    }
  });
  daemon.on("exit", (code) => reject(new Error(`the daemon exited (${code}): ${daemonLog}`)));
});
report(/\/v0\/agents\/[^/]+\/ui\/\?token=/.test(url), "the printed URL opens the console page", [url.replace(/token=.*/, "token=…")]);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(20000);
const page = await context.newPage();
const errors = [];
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
page.on("pageerror", (e) => errors.push(String(e)));
// Confirmations are accepted; a prompt gets `promptAnswer` (its default when null).
let promptAnswer = null;
page.on("dialog", (d) => d.accept(d.type() === "prompt" && promptAnswer !== null ? promptAnswer : undefined));
const errorsSince = (n) => errors.slice(n);

async function step(name, fn) {
  const before = errors.length;
  try {
    await fn();
    const fresh = errorsSince(before);
    report(fresh.length === 0, name, fresh);
  } catch (e) {
    await page.screenshot({ path: join(artifacts, `failed-${tally.passed + tally.failed + 1}.png`) }).catch(() => {});
    report(false, name, [String(e.message || e).split("\n")[0], ...errorsSince(before)]);
  }
}

async function tab(name, ready, act) {
  await step(`${name}: loads with no console error${act ? " and does its job" : ""}`, async () => {
    await page.getByRole("tab", { name }).click();
    const panel = page.locator(`#panel-${name.toLowerCase()}`);
    await ready(panel);
    if (act) await act(panel);
    await page.screenshot({ path: join(artifacts, `${name.toLowerCase()}.png`) });
  });
}

try {
  // ---- first load -------------------------------------------------------------------------------------
  await step("first load: the token leaves the address bar, the overview shows", async () => {
    await page.goto(url);
    await page.locator("#panel-overview dl.facts").waitFor();
    if (page.url().includes("token")) throw new Error(`the address still holds the token: ${page.url()}`);
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === "gw_token");
    if (!c || !c.httpOnly) throw new Error("no HttpOnly gw_token cookie");
    const readable = await page.evaluate(() => document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage));
    if (readable.includes(c.value)) throw new Error("the token is readable by script");
  });
  const figures = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource");
    return { bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0), files: 1 + res.length, ms: Math.round(performance.now()) };
  });
  console.log(`# first load: ${figures.files} files, ${figures.bytes} bytes transferred, overview shown after ${figures.ms} ms`);

  await step("the page's answers carry the policy and refuse framing", async () => {
    const res = await page.request.get(page.url());
    const csp = res.headers()["content-security-policy"] || "";
    if (!csp.startsWith("default-src 'self'")) throw new Error(`Content-Security-Policy: ${csp}`);
    if (res.headers()["x-frame-options"] !== "DENY") throw new Error("no X-Frame-Options: DENY");
  });

  await tab("Overview", (p) => p.getByText("Engine process").waitFor());

  await tab("Logs", (p) => p.locator(".log div").first().waitFor(), async (p) => {
    await p.getByLabel("Search").fill("listening");
    await p.locator(".log div:not(.hidden)", { hasText: "listening" }).first().waitFor();
  });

  await tab("Terminal", (p) => p.locator(".xterm-rows").waitFor(), async (p) => {
    await p.getByText(/^session /).waitFor();
    await page.locator("#terminal").click();
    await page.keyboard.type("echo $((6*7))-from-the-terminal\n");
    await p.locator(".xterm-rows", { hasText: "42-from-the-terminal" }).waitFor();
    // A reconnect resumes where the page left off: what the shell prints meanwhile arrives once.
    await page.evaluate(() => document.querySelector("#tab-overview").click());
    await page.getByRole("tab", { name: "Terminal" }).click();
    await page.keyboard.type("echo again-$((2+3))\n");
    await p.locator(".xterm-rows", { hasText: "again-5" }).waitFor();
  });

  await tab("Files", (p) => p.getByRole("button", { name: "notes/" }).waitFor(), async (p) => {
    await p.getByLabel("Upload").setInputFiles({ name: "upload.txt", mimeType: "text/plain", buffer: Buffer.from("uploaded through the page\n") });
    await p.getByRole("button", { name: "upload.txt" }).waitFor();
    await p.getByRole("button", { name: "upload.txt" }).click();
    await p.locator("pre.out", { hasText: "uploaded through the page" }).waitFor();
    promptAnswer = "renamed.txt";
    await p.getByRole("row", { name: /upload\.txt/ }).getByRole("button", { name: "Rename" }).click();
    await p.getByRole("button", { name: "renamed.txt" }).waitFor();
    await p.getByRole("button", { name: "dot.png" }).click();
    await p.locator("img.preview").waitFor();
    await p.getByLabel("Watch").check();
    await p.getByText("watching").waitFor();
    await p.getByRole("button", { name: "notes/" }).click();
    await p.getByRole("button", { name: "hello.txt" }).waitFor();
    // The watch follows the folder: a file made by someone else shows up without a reload.
    await p.getByText("watching").waitFor();
    writeFileSync(join(root, "workspace/notes/from-outside.txt"), "made beside the page\n");
    await p.getByRole("button", { name: "from-outside.txt" }).waitFor();
    const href = await p.getByText("Download folder").getAttribute("href");
    if (!/files\/archive\?path=workspace%2Fnotes&format=tar.gz/.test(href)) throw new Error(`archive link ${href}`);
  });

  await tab("Snapshots", (p) => p.getByRole("button", { name: "Sync now" }).waitFor(), async (p) => {
    await p.getByRole("button", { name: "Sync now" }).click();
    await p.locator("td.mono", { hasText: /^(ba|Qm)/ }).first().waitFor();
    const car = await p.getByText("CAR").first().getAttribute("href");
    const res = await page.request.get(new URL(car, page.url()).href);
    if (res.status() !== 200 || res.headers()["content-type"] !== "application/vnd.ipld.car") throw new Error(`CAR link: ${res.status()} ${res.headers()["content-type"]}`);
  });

  await tab("Processes", (p) => p.getByRole("button", { name: "Start" }).waitFor(), async (p) => {
    await p.getByLabel("Command").fill("echo from-a-process; read line; echo got-$line");
    await p.getByLabel("Name").fill("echoer");
    await p.getByRole("button", { name: "Start" }).click();
    await p.getByRole("button", { name: "Output" }).first().click();
    await p.locator("pre.out", { hasText: "from-a-process" }).waitFor();
    await p.getByLabel("Input").fill("typed");
    await p.getByRole("button", { name: "Send line" }).click();
    await p.locator("pre.out", { hasText: "got-typed" }).waitFor();
    await p.locator("pre.out", { hasText: "[exited 0" }).waitFor();
    await p.getByRole("cell", { name: /^exited/ }).waitFor(); // the list follows
  });

  await tab("Tasks", (p) => p.getByRole("button", { name: "Create" }).waitFor(), async (p) => {
    await p.getByLabel("Name").fill("say-hi");
    await p.getByLabel("Does").selectOption("command");
    await p.getByLabel("Text").fill("echo task-ran");
    await p.getByRole("button", { name: "Create" }).click();
    await p.getByRole("button", { name: "Run now" }).waitFor();
    await p.getByRole("button", { name: "Run now" }).click();
    await page.locator("#toast", { hasText: "say-hi: ok" }).waitFor();
    await p.getByRole("button", { name: "History" }).click();
    await p.locator("pre.out", { hasText: "task-ran" }).waitFor();
  });

  await tab("Routes", (p) => p.getByRole("button", { name: "Save routes" }).waitFor(), async (p) => {
    await p.getByRole("button", { name: "Add route" }).click();
    await p.getByLabel("Port").first().fill("3000");
    await p.getByLabel("Path prefix").first().fill("/app");
    await p.getByRole("button", { name: "Save routes" }).click();
    await page.locator("#toast", { hasText: "Routes saved" }).waitFor();
  });

  await tab("Config", (p) => p.locator("textarea.config").waitFor(), async (p) => {
    const text = await p.locator("textarea.config").inputValue();
    if (!text.includes("the engine's config")) throw new Error("the config's text is not shown as it is on disk");
    await p.getByRole("button", { name: "Validate" }).click();
    await p.locator("pre.out.ok", { hasText: "Valid." }).waitFor();
  });

  await tab("Channels", (p) => p.getByText("telegram").first().waitFor(), async (p) => {
    await p.getByRole("cell", { name: "r-1" }).waitFor();
  });

  await step("every form control has a label", async () => {
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea")]
        .filter((el) => el.type !== "hidden" && !el.labels?.length && !el.getAttribute("aria-label"))
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    if (unlabeled.length) throw new Error(unlabeled.join(" | "));
  });

  await step("the tabs answer the keyboard (arrow keys move between them)", async () => {
    await page.getByRole("tab", { name: "Overview" }).focus();
    await page.keyboard.press("ArrowRight");
    const focused = await page.evaluate(() => document.activeElement?.dataset.tab);
    if (focused !== "logs") throw new Error(`focus went to ${focused}`);
  });

  await step("without the cookie the page is 401; a page that loses it asks for the token and signs in", async () => {
    const other = await browser.newContext();
    try {
      const res = await (await other.newPage()).goto(url.replace(/\?token=.*/, ""));
      if (res.status() !== 401) throw new Error(`the page without a token answered ${res.status()}`);
    } finally {
      await other.close();
    }
    await context.clearCookies(); // as a token rotation leaves an open page
    const before = errors.length;
    await page.getByRole("tab", { name: "Overview" }).click();
    await page.locator("#signin").waitFor();
    errors.splice(before); // the refused call is expected here
    await page.getByLabel("Gateway token").fill(new URL(url).searchParams.get("token"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#panel-overview dl.facts").waitFor();
    if (page.url().includes("token")) throw new Error(`the address holds the token: ${page.url()}`);
  });

  await step("a phone's width: no page-wide horizontal scrolling", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const name of ["Overview", "Files", "Tasks"]) {
      await page.getByRole("tab", { name }).click();
      await page.locator(`#panel-${name.toLowerCase()} h2`).first().waitFor();
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      await page.screenshot({ path: join(artifacts, `phone-${name.toLowerCase()}.png`) });
      if (wide > 1) throw new Error(`${name} is ${wide} px wider than the screen`);
    }
  });
} finally {
  await browser.close();
  daemon.kill("SIGTERM");
  await new Promise((r) => daemon.once("exit", r));
  rmSync(root, { recursive: true, force: true });
}
finish(`screenshots in ${artifacts}`);
