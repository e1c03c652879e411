/**
 * `blender_list_artifacts`: the files a job stored in the Object Store (screenshots, large
 * results, a farm job's outputs), each with the URL any replica serves it at, to its owner.
 */
import { ListArtifactsInputSchema, ToolOutputSchemas } from "@blender-fabric/protocol";
import { artifactFileName } from "@blender-fabric/bus";
import { jobArtifacts } from "@blender-fabric/engine";
import { defineTool, type ToolDefinition } from "../mcp/tool-catalog.js";

const listArtifacts = defineTool({
  name: "blender_list_artifacts",
  title: "List a job's files",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.listArtifacts,
  description:
    "The files a job stored: a farm job's outputs (those of the attempt that completed each task), a screenshot, a large result. Each has its name, size, sha256, " +
    "content_type and url (GET it from the gateway with the same bearer token).",
  inputSchema: ListArtifactsInputSchema,
  async handler(input, context) {
    const refs = (await jobArtifacts(context.services, context.identity.userId, input.job_id)).filter(
      (ref) => input.stored_after === null || (ref.stored_at !== undefined && Date.parse(ref.stored_at) > Date.parse(input.stored_after)),
    );
    const artifacts = refs.map((ref) => ({ ...ref, file: artifactFileName(ref.name) }));
    return { status: "ok", job_id: input.job_id, total: artifacts.length, artifacts };
  },
});

export const createArtifactTools = (): ToolDefinition[] => [listArtifacts];
