/**
 * `blender-fabric render scene.blend --frames 1-250 --chunk 5 --group render-cluster --out ./frames`:
 * the farm for an operator without an LLM. It uploads the .blend (skipped when the gateway
 * has it by hash), submits `blender_render_frames`, shows frames done, ETA and failed
 * attempts while downloading each frame as it lands, and exits non-zero unless every frame
 * was rendered. It says why the job waits when no peer takes it. Ctrl-C cancels the job and
 * follows it until it has ended; a second Ctrl-C stops following at once and says what is
 * left running. Progress bars are cli-progress's.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable, Transform } from "node:stream";
import cliProgress from "cli-progress";
import { hashFile } from "@blender-fabric/bus";
import { openFabricSession, type FabricSession, type GatewayOptions } from "./fabric-session.js";

export type RenderOptions = GatewayOptions & {
  blend: string;
  frames: string;
  chunk: number;
  /** Unset: the user's farm pool (every farm worker). */
  group?: string;
  out: string;
  capabilities: string[];
  engine?: string;
  samples?: number;
  resolution?: { x: number; y: number };
  percentage?: number;
  format: string;
  maxAttempts: number;
  /** high, normal or low: idle peers take higher-priority farm jobs first. */
  priority: string;
  /** The job expires if this CLI stops following it this long before any task started. Seconds */
  ownerTimeout: number;
  /** The first, last and middle frames first. */
  previewFirst: boolean;
  /** Also make preview.mp4 when every frame is rendered. */
  previewVideo: boolean;
};

type Artifact = { name: string; file: string; url: string; sha256: string; stored_at?: string };
type Attempt = { status: string; target_uuid: string | null; error: string };
/** The job's status summary (no tasks listed: its size does not grow with the job). */
type FarmStatus = {
  status: string;
  error: string;
  /** Why the job waits (no live peer in its group…), while it does. */
  progress_message?: string | null;
  farm: { frames_done: number; frames_total: number; failed_attempts: number; recent_failures: Attempt[]; blocklisted: string[]; paused?: boolean };
};

/** How often the job is looked at while it runs. ms */
const POLL_MS = 1_000;

const isTerminal = (status: string) => ["completed", "failed", "cancelled", "expired", "lost"].includes(status);

/** Renders the job; resolves with the process exit code (0 only when every frame came back). */
export async function renderCommand(options: RenderOptions): Promise<number> {
  const session = await openFabricSession(options);
  try {
    const sha256 = await uploadBlend(session, options.blend);
    const submitted = await session.call("blender_render_frames", {
      frames: options.frames,
      chunk_size: options.chunk,
      group_id: options.group ?? null,
      capabilities: options.capabilities,
      blend: { sha256 },
      engine: options.engine ?? null,
      samples: options.samples ?? null,
      resolution_x: options.resolution?.x ?? null,
      resolution_y: options.resolution?.y ?? null,
      resolution_percentage: options.percentage ?? null,
      output_format: options.format,
      max_attempts: options.maxAttempts,
      priority: options.priority,
      frame_order: options.previewFirst ? "preview_first" : "sequential",
      preview_video: options.previewVideo,
      // Followed each second while this runs: killed before any peer took a task, the job goes.
      owner_timeout_seconds: options.ownerTimeout,
      request_id: `render-${randomBytes(8).toString("hex")}`,
    });
    if (submitted.status !== "queued") throw new Error(`the render was refused: ${submitted.error ?? JSON.stringify(submitted)}`);
    const where = options.group ? `group ${options.group}` : "your farm workers";
    process.stdout.write(`job ${submitted.job_id}: ${submitted.frames} frames in ${submitted.tasks} tasks on ${where}\n`);
    await mkdir(options.out, { recursive: true });
    const interrupt = cancelOnCtrlC(session, submitted.job_id);
    let ended: FarmStatus;
    try {
      ended = await Promise.race([followJob(session, submitted.job_id, submitted.frames, options.out), interrupt.abandoned]);
    } finally {
      interrupt.stop();
    }
    for (const failure of ended.farm.recent_failures) process.stdout.write(`  failed attempt on ${failure.target_uuid}: ${failure.error.split("\n")[0]}\n`);
    if (ended.farm.blocklisted.length > 0) process.stdout.write(`  blocklisted: ${ended.farm.blocklisted.join(", ")}\n`);
    process.stdout.write(`job ${submitted.job_id} ${ended.status}: ${ended.farm.frames_done}/${ended.farm.frames_total} frames in ${options.out}\n`);
    if (ended.status !== "completed") process.stderr.write(`blender-fabric: the render ${ended.status}: ${ended.error}\n`);
    if (interrupt.cancelled) return SIGINT_EXIT_CODE;
    return ended.status === "completed" ? 0 : 1;
  } finally {
    await session.close();
  }
}

/** A process ended by Ctrl-C exits with 128 + SIGINT. */
const SIGINT_EXIT_CODE = 130;

/**
 * Ctrl-C while a render is followed: the first asks the gateway to cancel the job (pending
 * frames never render, running tasks stop) and the following goes on until the job has
 * ended; the second stops following at once (`abandoned` settles) and says the job may still
 * be running on the fabric.
 */
function cancelOnCtrlC(session: FabricSession, jobId: string) {
  let presses = 0;
  let abandon!: (status: FarmStatus) => void;
  const abandoned = new Promise<FarmStatus>((resolve) => (abandon = resolve));
  const state = { cancelled: false };
  const onSigint = () => {
    presses += 1;
    if (presses === 1) {
      state.cancelled = true;
      process.stdout.write(`\nCtrl-C: cancelling job ${jobId} (Ctrl-C again to stop waiting and leave what still runs)\n`);
      void session.call("blender_job_cancel", { job_id: jobId }).catch((error: unknown) => {
        process.stderr.write(`blender-fabric: could not cancel job ${jobId}: ${error instanceof Error ? error.message : String(error)}\n`);
      });
      return;
    }
    process.stdout.write(`\nCtrl-C again: stopped following job ${jobId}; it was asked to cancel, and its running tasks may still be finishing on the fabric\n`);
    abandon({ status: "cancelling", error: "stopped following after a second Ctrl-C", farm: { frames_done: 0, frames_total: 0, failed_attempts: 0, recent_failures: [], blocklisted: [] } });
  };
  process.on("SIGINT", onSigint);
  return {
    abandoned,
    get cancelled() {
      return state.cancelled;
    },
    stop: () => void process.off("SIGINT", onSigint),
  };
}

/** The SHA-256 of the file; it is uploaded unless the gateway has it already. */
async function uploadBlend(session: FabricSession, path: string): Promise<string> {
  const { sha256, size } = await hashFile(path);
  const known = await session.fetch(`/blends/${sha256}`, { method: "HEAD" });
  if (known.status === 200) {
    process.stdout.write(`${basename(path)} is on the fabric already (${sha256.slice(0, 12)})\n`);
    return sha256;
  }
  const bar = new cliProgress.SingleBar(
    { format: `upload ${basename(path)} [{bar}] {percentage}% {value}/{total} bytes`, noTTYOutput: true, notTTYSchedule: 1_000, stream: process.stdout },
    cliProgress.Presets.shades_classic,
  );
  bar.start(size, 0);
  let sent = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.byteLength;
      bar.update(sent);
      callback(null, chunk);
    },
  });
  const body = Readable.toWeb(createReadStream(path).pipe(counting)) as ReadableStream<Uint8Array>;
  const response = await session.fetch(`/blends/${sha256}`, {
    method: "PUT",
    body,
    headers: { "content-type": "application/x-blender", "content-length": String(size) },
    duplex: "half",
  } as RequestInit);
  bar.stop();
  if (!response.ok) throw new Error(`the upload was refused (HTTP ${response.status}): ${await response.text()}`);
  return sha256;
}

/** Shows progress and downloads frames as they land until the job ends; then fetches the rest. */
async function followJob(session: FabricSession, jobId: string, framesTotal: number, out: string): Promise<FarmStatus> {
  const bar = new cliProgress.SingleBar(
    { format: "frames {value}/{total} [{bar}] {percentage}% | ETA {eta_formatted} | failed attempts {failures}", noTTYOutput: true, notTTYSchedule: 1_000, stream: process.stdout },
    cliProgress.Presets.shades_classic,
  );
  bar.start(framesTotal, 0, { failures: 0 });
  const downloaded: Downloads = { files: new Map(), storedAfter: null };
  let waiting = "";
  try {
    for (;;) {
      const status = await session.call<FarmStatus>("blender_job_status", { job_id: jobId, wait_seconds: POLL_MS / 1000, tasks_limit: 0 });
      // Why it waits, once each time it changes (a bar alone would only show 0 frames).
      const reason = status.farm.paused ? "paused" : status.progress_message?.startsWith("waiting") ? status.progress_message : "";
      if (reason && reason !== waiting) process.stdout.write(`\njob ${jobId} is ${reason}\n`);
      waiting = reason;
      await downloadNewFrames(session, jobId, out, downloaded);
      bar.update(status.farm.frames_done, { failures: status.farm.failed_attempts });
      if (isTerminal(status.status)) {
        await downloadNewFrames(session, jobId, out, downloaded, true);
        return status;
      }
    }
  } finally {
    bar.stop();
  }
}

/** Frames downloaded (name → sha256), and the newest store time seen: each look lists only what came since. */
type Downloads = { files: Map<string, string>; storedAfter: string | null };

/**
 * Store times come from the clocks of several gateway replicas: a look lists what was stored
 * since this long before the newest time seen, so a frame stored by a replica whose clock is
 * behind is not skipped (the last look, after the job ended, lists everything). ms
 */
const CLOCK_SLACK_MS = 30_000;

/**
 * The job's artifacts not downloaded yet (or changed since), checked against their SHA-256.
 * `all`: list every artifact, not only those stored since the last look.
 */
async function downloadNewFrames(session: FabricSession, jobId: string, out: string, downloaded: Downloads, all = false): Promise<void> {
  const storedAfter = all || !downloaded.storedAfter ? null : new Date(Date.parse(downloaded.storedAfter) - CLOCK_SLACK_MS).toISOString();
  const listing = await session.call<{ artifacts: Artifact[] }>("blender_list_artifacts", { job_id: jobId, stored_after: storedAfter });
  for (const artifact of listing.artifacts) {
    if (artifact.stored_at && (!downloaded.storedAfter || artifact.stored_at > downloaded.storedAfter)) downloaded.storedAfter = artifact.stored_at;
    if (downloaded.files.get(artifact.name) === artifact.sha256) continue;
    const response = await session.fetch(artifact.url);
    if (!response.ok) throw new Error(`could not download ${artifact.file} (HTTP ${response.status})`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== artifact.sha256) continue; // replaced while we read it: the next look fetches it again
    const path = join(out, basename(artifact.file));
    await writeFile(`${path}.partial`, bytes);
    await rename(`${path}.partial`, path);
    downloaded.files.set(artifact.name, artifact.sha256);
  }
}
