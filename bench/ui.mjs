// bench/ui's measurement: see bench/ui.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const here = new URL(".", import.meta.url).pathname;
const { chromium } = await import(pathToFileURL(resolve(here, "../tests/ui/node_modules/playwright-core/index.mjs")).href);
const [binary, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 7);
const root = mkdtempSync(join(tmpdir(), "ag-bench-ui-"));
const daemon = spawn(binary, ["--listen", "127.0.0.1:0", "--root", root, "--snapshot-interval", "0"], { stdio: ["ignore", "pipe", "ignore"] });
const url = await new Promise((ok, fail) => {
  let out = "";
  daemon.stdout.on("data", (d) => {
    out += d;
    const m = /agent-gateway: open (\S+)/.exec(out);
    if (m) ok(m[1]);
  });
  daemon.on("exit", (c) => fail(new Error(`the daemon exited ${c}`)));
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => performance.getEntriesByName("console-ready").length > 0);
    const first = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const res = performance.getEntriesByType("resource");
      return { bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0), files: 1 + res.length, ready: performance.getEntriesByName("console-ready")[0].startTime };
    });
    const before = await page.evaluate(() => performance.now());
    await page.getByRole("tab", { name: "Terminal" }).click();
    await page.getByText(/^session /).waitFor();
    const term = await page.evaluate((t0) => {
      const nav = performance.getEntriesByType("navigation")[0];
      const res = performance.getEntriesByType("resource");
      return { bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0), ready: performance.getEntriesByName("terminal-ready")[0].startTime - t0 };
    }, before);
    rows.push({ ...first, termBytes: term.bytes - first.bytes, termReady: term.ready });
    await context.close();
  }
} finally {
  await browser.close();
  daemon.kill("SIGTERM");
  rmSync(root, { recursive: true, force: true });
}
const bytes = median(rows.map((r) => r.bytes));
console.log(`console page, first load (${runs} fresh profiles, medians):`);
console.log(`  files ${median(rows.map((r) => r.files))}, ${bytes} bytes transferred, usable after ${median(rows.map((r) => r.ready)).toFixed(0)} ms`);
console.log(`  Terminal tab first opened: ${median(rows.map((r) => r.termBytes))} more bytes (xterm.js), terminal drawn after ${median(rows.map((r) => r.termReady)).toFixed(0)} ms`);
