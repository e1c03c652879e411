// A running job's progress reports go one at a time, in order, and all before its end: the
// fix for a caller that got its answer before the last report (two replicas took the last
// report and the end, and the end's replica was quicker).
import { expect, test } from "vitest";
import { ProgressReports, type ProgressReport } from "../src/progress-reports.js";

/** A send that takes as long as the test lets it: each call waits for `release()`. */
function gatedSend() {
  const sent: ProgressReport[] = [];
  const gates: (() => void)[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const send = async (report: ProgressReport) => {
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await new Promise<void>((resolve) => gates.push(resolve));
    sent.push(report);
    inFlight -= 1;
  };
  const release = async () => {
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { send, release, sent, mostInFlight: () => mostInFlight };
}

test("reports are sent one at a time; while one is out only the newest waits", async () => {
  const gate = gatedSend();
  const reports = new ProgressReports(gate.send, () => {});
  reports.report({ fraction: 0.25, message: "step 1" });
  reports.report({ fraction: 0.5, message: "step 2" });
  reports.report({ fraction: 0.75, message: "step 3" });
  let flushed = false;
  const flushing = reports.flushed(60_000).then(() => (flushed = true));
  await gate.release();
  expect(flushed).toBe(false); // step 3 is still to go
  await gate.release();
  await flushing;
  expect(gate.sent.map((report) => report.message)).toEqual(["step 1", "step 3"]);
  expect(gate.mostInFlight()).toBe(1);
});

test("a failed report is passed on and the next one still goes", async () => {
  const failures: unknown[] = [];
  const sent: string[] = [];
  let calls = 0;
  const reports = new ProgressReports(async (report) => {
    calls += 1;
    if (calls === 1) throw new Error("fabric unavailable");
    sent.push(report.message);
  }, (error) => failures.push(error));
  reports.report({ fraction: 0.1, message: "lost" });
  reports.report({ fraction: 0.2, message: "kept" });
  await reports.flushed();
  expect(failures).toHaveLength(1);
  expect(sent).toEqual(["kept"]);
});

test("an end waits for a report that never answers only as long as it is told", async () => {
  const reports = new ProgressReports(() => new Promise<void>(() => {}), () => {});
  reports.report({ fraction: 0.5, message: "hangs" });
  const started = Date.now();
  await reports.flushed(100);
  expect(Date.now() - started).toBeGreaterThanOrEqual(90);
});
