/**
 * A render's preview video (blender_render_frames' `preview_video`): once every task of the
 * farm job completed, one replica encodes its frames, in frame order at 24 fps, into
 * `preview.mp4` (H.264 through the OS's ffmpeg) and stores it as one more of the job's files;
 * then the job completes. So a caller that sees `completed` finds the video there.
 *
 * Which replica: the one whose compare-and-set marks the job `encoding since <t>` first
 * (summary.preview_video_status). The encoding runs beside the reaper's sweeps, never inside
 * one. If that replica dies, the mark grows old and another replica starts over after
 * ENCODING_STALE_SECONDS. A failure (no ffmpeg, an unreadable frame) is recorded as
 * `failed: <why>` and the job completes anyway: its frames are all there.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { epochSeconds, frameOfFileName, type FarmSummary, type JobRecord } from "@blender-fabric/protocol";
import { artifactFileName, type ArtifactStore } from "@blender-fabric/bus";
import type { JobStore } from "./job-store.js";
import type { FarmProgress } from "./farm-progress.js";

export const PREVIEW_VIDEO_FILE = "preview.mp4";
/** An `encoding` mark older than this is taken over (its replica died). Seconds */
const ENCODING_STALE_SECONDS = 600;
const FRAMES_PER_SECOND = 24;

export class PreviewVideos {
  readonly #jobs: JobStore;
  readonly #artifacts: ArtifactStore;
  /** Farm jobs this replica is encoding now. */
  readonly #encoding = new Set<string>();

  constructor(jobs: JobStore, artifacts: ArtifactStore) {
    this.#jobs = jobs;
    this.#artifacts = artifacts;
  }

  /**
   * Whether a farm job whose tasks all completed may complete now: yes unless it wants a
   * video not made yet, which this starts making (in the background) when nobody is.
   */
  ready(farm: JobRecord, summary: FarmSummary, progress: FarmProgress): boolean {
    const status = summary.preview_video_status;
    if (!summary.preview_video || summary.kind !== "render" || status === "stored" || status?.startsWith("failed")) return true;
    const key = `${farm.bus_id}\u0000${farm.job_id}`;
    if (!this.#encoding.has(key)) {
      this.#encoding.add(key);
      void this.#make(farm, progress)
        .catch(() => {}) // the mark grows old; another sweep tries again
        .finally(() => this.#encoding.delete(key));
    }
    return false;
  }

  async #make(farm: JobRecord, progress: FarmProgress): Promise<void> {
    const userId = farm.bus_id;
    const claimed = await this.#jobs.changeFarm(userId, farm.job_id, (job, summary) => {
      const since = /^encoding since (\d+)/u.exec(summary.preview_video_status ?? "");
      const free = summary.preview_video_status === null || (since !== null && epochSeconds() - Number(since[1]) > ENCODING_STALE_SECONDS);
      return free ? { ...job, result: { ...summary, preview_video_status: `encoding since ${Math.floor(epochSeconds())}` } } : undefined;
    });
    if (!claimed.changed) return;
    let outcome: { stored: true; artifact: Awaited<ReturnType<ArtifactStore["put"]>> } | { failed: string };
    try {
      outcome = { stored: true, artifact: await this.#encode(farm, progress) };
    } catch (error) {
      outcome = { failed: error instanceof Error ? error.message : String(error) };
    }
    await this.#jobs.changeFarm(userId, farm.job_id, (job, summary) => {
      if ("failed" in outcome) return { ...job, result: { ...summary, preview_video_status: `failed: ${outcome.failed}` } };
      const { name, size, sha256, content_type } = outcome.artifact;
      return {
        ...job,
        artifacts: [...job.artifacts.filter((noted) => noted.name !== name), { name, size, sha256, content_type, stored_at: new Date().toISOString() }],
        result: { ...summary, preview_video_status: "stored" },
      };
    });
  }

  /** Reads the completing attempts' frames in frame order, encodes them, stores the video. */
  async #encode(farm: JobRecord, progress: FarmProgress) {
    const userId = farm.bus_id;
    const completing = progress.tasks.map((task) => task.attempts.find((attempt) => attempt.status === "completed")?.job_id).filter((id) => id !== undefined);
    const records = await Promise.all(completing.map((jobId) => this.#jobs.get(userId, jobId)));
    const frames = records
      .flatMap((record) => record?.artifacts ?? [])
      .map((stored) => ({ stored, file: artifactFileName(stored.name) }))
      .map((entry) => ({ ...entry, frame: frameOfFileName(entry.file) }))
      .filter((entry): entry is typeof entry & { frame: number } => entry.frame !== undefined)
      .sort((a, b) => a.frame - b.frame);
    if (frames.length === 0) throw new Error("the job stored no frames");
    const extension = frames[0]!.file.split(".").at(-1)!;
    const dir = await mkdtemp(join(tmpdir(), "fabric-preview-"));
    try {
      // Numbered from 1 without gaps: ffmpeg's image sequence input stops at the first gap.
      for (const [index, entry] of frames.entries()) {
        const bytes = await this.#artifacts.get(entry.stored.name);
        if (!bytes) throw new Error(`frame ${entry.frame} (${entry.file}) could not be read`);
        await writeFile(join(dir, `${String(index + 1).padStart(6, "0")}.${extension}`), bytes.bytes);
      }
      const output = join(dir, PREVIEW_VIDEO_FILE);
      await runFfmpeg([
        "-hide_banner", "-loglevel", "error", "-y",
        "-framerate", String(FRAMES_PER_SECOND), "-start_number", "1", "-i", join(dir, `%06d.${extension}`),
        // H.264 in yuv420p plays everywhere; it needs even sides.
        "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        output,
      ]);
      return await this.#artifacts.put(userId, farm.job_id, PREVIEW_VIDEO_FILE, await readFile(output), "video/mp4");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("ffmpeg", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === "ENOENT" ? "ffmpeg is not installed where the gateway runs" : `ffmpeg could not start: ${error.message}`)),
    );
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed (exit ${code}): ${stderr.trim().split("\n").slice(-2).join(" ")}`))));
  });
}
