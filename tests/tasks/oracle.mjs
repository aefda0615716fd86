// The scheduler's cron against an independent implementation (docs/api.md §14): cron-parser from npm. Random
// expressions (ranges, steps, lists, names, 7 as Sunday, macros) and random start instants in zones with and
// without daylight saving; the next 20 fire times must be equal wherever the zone's offset stays the same.
//   node oracle.mjs CRON_NEXT_BINARY [CASES]
import { spawnSync } from "node:child_process";
import { CronExpressionParser } from "cron-parser";

const binary = process.argv[2];
const cases = Number(process.argv[3] ?? 4000);
// mulberry32: a fixed seed, so a failure is the same on every run.
let seed = 20261202;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
// One field: *, */s, a, a-b, a-b/s, or a list of values and ranges. `names` (months, days) is sometimes used.
function field(lo, hi, { names, star = true } = {}) {
  const value = (v) => (names && rand() < 0.3 ? (rand() < 0.5 ? names[v - lo] : names[v - lo].toUpperCase()) : String(v));
  const kind = rand();
  if (kind < 0.25 && star) return "*";
  if (kind < 0.4 && star) return `*/${int(2, Math.max(2, Math.floor((hi - lo + 1) / 2)))}`;
  if (kind < 0.6) return value(int(lo, hi));
  if (kind < 0.8) {
    const a = int(lo, hi - 1);
    const b = int(a + 1, hi);
    return rand() < 0.5 ? `${value(a)}-${value(b)}` : `${value(a)}-${value(b)}/${int(1, Math.max(1, b - a))}`;
  }
  const n = int(2, 4);
  const items = new Set();
  while (items.size < n) items.add(int(lo, hi));
  return [...items].map(value).join(",");
}

function expression() {
  if (rand() < 0.04) return pick(["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@midnight", "@annually"]);
  const minute = field(0, 59);
  const hour = rand() < 0.3 ? "*" : field(0, 23);
  let dom = rand() < 0.5 ? "*" : field(1, 28 + int(0, 3));
  let dow = rand() < 0.5 ? "*" : rand() < 0.1 ? "7" : field(0, 6, { names: days });
  // A day field starting with * is unrestricted for Vixie cron ("*/2" too), restricted for cron-parser:
  // that one known difference is kept out of the random cases (tests/unit/cron_test.cpp has it).
  if (dom !== "*" && dow.startsWith("*")) dow = "*";
  if (dow !== "*" && dom.startsWith("*")) dom = "*";
  const month = rand() < 0.6 ? "*" : field(1, 12, { names: months });
  return `${minute} ${hour} ${dom} ${month} ${dow}`;
}

const zones = ["UTC", "Asia/Tokyo", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Europe/Berlin",
  "Australia/Sydney", "America/Sao_Paulo", "Australia/Lord_Howe", "Pacific/Chatham"];
const inputs = [];
for (let i = 0; i < cases; ++i) {
  const start = new Date(Date.UTC(2026, 0, 1) + Math.floor(rand() * 4 * 365 * 86400) * 1000);
  inputs.push({ expr: expression(), tz: pick(zones), start: start.toISOString(), count: 20 });
}

const run = spawnSync(binary, { input: inputs.map((c) => JSON.stringify(c)).join("\n") + "\n", maxBuffer: 1 << 28 });
if (run.status !== 0) {
  console.log(`not ok - ${binary} exited ${run.status}: ${run.stderr}`);
  process.exit(1);
}
const outputs = run.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));
let compared = 0, unsteady = 0, failed = 0;
for (let i = 0; i < inputs.length; ++i) {
  const c = inputs[i], ours = outputs[i];
  let theirs;
  try {
    // cron-parser lacks @midnight, which is @daily.
    const it = CronExpressionParser.parse(c.expr === "@midnight" ? "@daily" : c.expr, { currentDate: new Date(c.start), tz: c.tz });
    theirs = [];
    for (let k = 0; k < ours.fires?.length ?? 0; ++k) theirs.push(it.next().toISOString());
  } catch (e) {
    theirs = { error: String(e) };
  }
  // Across a DST change the two differ by design (cron-parser even gives up on Lord Howe's half hour).
  if (!ours.error && !ours.steady) {
    unsteady++;
    continue;
  }
  // A day no month of the expression has (31 April): we find no fire time, cron-parser refuses it.
  if (!ours.error && ours.fires.length === 0 && theirs.error) {
    compared++;
    continue;
  }
  if (ours.error || theirs.error) {
    failed++;
    if (failed <= 20)
      console.log(`not ok - ${JSON.stringify(c)}: ours ${JSON.stringify(ours).slice(0, 200)} theirs ${JSON.stringify(theirs).slice(0, 200)}`);
    continue;
  }
  if (ours.fires.length !== 20) {
    failed++;
    console.log(`not ok - ${JSON.stringify(c)}: only ${ours.fires.length} fire times`);
    continue;
  }
  compared++;
  const diff = ours.fires.findIndex((f, k) => f !== theirs[k]);
  if (diff >= 0) {
    failed++;
    if (failed <= 20)
      console.log(`not ok - ${JSON.stringify(c)}: fire ${diff}: ours ${ours.fires[diff]} theirs ${theirs[diff]}`);
  }
}
console.log(`# ${cases} expressions: ${compared} compared (20 fire times each), ${unsteady} crossed a DST change, ${failed} failed`);
if (failed > 0 || compared < cases / 2) {
  console.log("not ok - cron oracle");
  process.exit(1);
}
console.log("ok - cron oracle");
