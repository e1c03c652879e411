/**
 * Waits until exactly one of the user's jobs is running, as an LLM sees it (blender_list_jobs),
 * for tests that act on a call while it is in flight (kill its peer, cancel it). When the
 * wait fails, the error says what the fabric knew: every job record, and how the call ended
 * if it already had.
 */
import { waitFor, type FabricTestClient } from "@blender-fabric/testkit";

export async function waitForRunningJob(
  llm: FabricTestClient,
  options: { call?: Promise<unknown>; timeoutMs?: number } = {},
): Promise<string> {
  let settled = "in flight";
  options.call?.then(
    (result) => (settled = `answered ${JSON.stringify(result)}`),
    (error: unknown) => (settled = `rejected: ${String(error)}`),
  );
  let jobId = "";
  try {
    await waitFor("a job to run", async () => {
      const running = await llm.call("blender_list_jobs", { status: "running" });
      jobId = running.total === 1 ? running.jobs[0].job_id : "";
      return jobId !== "";
    }, options.timeoutMs ?? 20_000, 50);
  } catch (error) {
    const jobs = await llm.call("blender_list_jobs", {}).catch((listError: unknown) => String(listError));
    throw new Error(`${String(error)}; the call: ${options.call ? settled : "not given"}; jobs: ${JSON.stringify(jobs)}`, { cause: error });
  }
  return jobId;
}
