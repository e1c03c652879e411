/**
 * A screenshot answered as an MCP `image` block beside the JSON text, so the LLM sees the
 * picture itself. The bridge stored the PNG in the Object Store (result-artifacts.ts); the
 * answer's `result` names it, and the image is read back from there.
 */
import type { ImageContent } from "@modelcontextprotocol/sdk/types.js";
import type { ToolContext } from "../mcp/tool-context.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg"]);

type Answer = { status: string; result?: unknown };

/** The image of a completed screenshot answer; none when there is no readable image. */
export async function screenshotImages(context: ToolContext, answer: Answer): Promise<ImageContent[]> {
  if (answer.status !== "completed" || typeof answer.result !== "string") return [];
  let artifact: { name?: unknown; content_type?: unknown } | undefined;
  try {
    artifact = (JSON.parse(answer.result) as { artifact?: typeof artifact }).artifact;
  } catch {
    return [];
  }
  if (typeof artifact?.name !== "string" || typeof artifact.content_type !== "string") return [];
  if (!IMAGE_TYPES.has(artifact.content_type)) return [];
  // Artifact names start with the owner's user id: only the caller's own are read.
  if (!artifact.name.startsWith(context.services.artifacts.prefixForUser(context.identity.userId))) return [];
  const stored = await context.services.artifacts.get(artifact.name).catch(() => undefined);
  if (!stored) return [];
  return [{ type: "image", data: Buffer.from(stored.bytes).toString("base64"), mimeType: artifact.content_type }];
}
