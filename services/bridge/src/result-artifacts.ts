/**
 * Results that must not travel inline: a screenshot's image file (a path means nothing on
 * another machine) and any result over 256 KiB go to the Object Store; the result keeps a
 * reference that any gateway serves under /artifacts/.
 */
import { basename } from "node:path";
import type { ArtifactWriter } from "@blender-fabric/engine";
import { contentTypeOf } from "./output-folder.js";
import { readBlenderFile, removeBlenderFile } from "./work-root.js";

/** Results larger than this, as JSON, are stored as artifacts. Bytes */
const MAX_INLINE_RESULT_BYTES = 256 * 1024;

type ScreenshotResult = { filepath: string; width: number; height: number; format: string };

const isScreenshot = (command: string, result: unknown): result is ScreenshotResult =>
  command === "get_viewport_screenshot" &&
  typeof result === "object" &&
  result !== null &&
  typeof (result as { filepath?: unknown }).filepath === "string";

export async function storeLargeResults(
  artifacts: ArtifactWriter,
  userId: string,
  jobId: string,
  command: string,
  params: Record<string, unknown>,
  result: unknown,
): Promise<unknown> {
  if (isScreenshot(command, result)) {
    const { filepath, ...rest } = result;
    const bytes = await readBlenderFile(filepath);
    const contentType = contentTypeOf(filepath);
    const artifact = await artifacts.put(jobId, basename(filepath), bytes, contentType);
    // A file the addon made in its temp dir is ours to remove; one the caller named is not.
    if (!params.filepath) await removeBlenderFile(filepath);
    return { ...rest, artifact };
  }
  const json = JSON.stringify(result ?? null);
  if (Buffer.byteLength(json) <= MAX_INLINE_RESULT_BYTES) return result;
  const artifact = await artifacts.put(jobId, "result.json", Buffer.from(json), "application/json");
  return { artifact, note: `the result was ${Buffer.byteLength(json)} bytes; fetch it from artifact.url` };
}
