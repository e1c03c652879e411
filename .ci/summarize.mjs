// Prints "N passed, N failed" from vitest's JSON report. A test that never ran because its
// file failed (a failing beforeAll, an import error) counts as failed, never as skipped.
import { existsSync, readFileSync } from "node:fs";

const path = process.argv[2];
if (!path || !existsSync(path)) {
  console.error("the test runner produced no report (it did not run)");
  console.log("0 passed, 0 failed");
  process.exit(1);
}
const report = JSON.parse(readFileSync(path, "utf8"));
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of report.testResults) {
  if (file.status === "failed" && file.assertionResults.length === 0) failed += 1;
  for (const test of file.assertionResults) {
    if (test.status === "passed") passed += 1;
    else if (test.status === "failed" || file.status === "failed") failed += 1;
    else skipped += 1;
  }
}
if (skipped > 0) console.error(`${skipped} tests were skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || skipped > 0 ? 1 : 0);
