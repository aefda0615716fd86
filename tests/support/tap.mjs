// TAP-style reporting for the Node test scripts (tests/openapi, tests/ui): one "ok N - name" or "not ok N -
// name" line per check, its details as "#" lines, and a summary that sets the exit code.
export const tally = { passed: 0, failed: 0 };

export function report(ok, name, details = []) {
  if (ok) tally.passed++;
  else tally.failed++;
  console.log(`${ok ? "ok" : "not ok"} ${tally.passed + tally.failed} - ${name}`);
  for (const d of details) console.log(`#   ${d}`);
}

// Prints the plan and the counts; exits 1 when a check failed.
export function finish(note = "") {
  console.log(`1..${tally.passed + tally.failed}`);
  console.log(`# ${tally.passed} passed, ${tally.failed} failed${note ? "; " + note : ""}`);
  process.exit(tally.failed ? 1 : 0);
}
