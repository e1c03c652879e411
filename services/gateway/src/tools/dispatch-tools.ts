/**
 * The 24 dispatch tools (seed 001), one per addon command, generated from the catalog in
 * packages/protocol: each takes its command's parameters plus `target_uuid`, `_timeout`
 * and `bus_id`, and answers `{status, command, target_uuid, job_id, result, error}`.
 */
import type { z } from "zod";
import {
  DISPATCH_COMMANDS,
  DispatchCommonArgsSchema,
  DispatchResultSchema,
  TIMEOUT_TIERS,
  withParsedResult,
  type DispatchCommand,
} from "@blender-fabric/protocol";
import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { defineTool, withImages, type ToolDefinition } from "../mcp/tool-catalog.js";
import { dispatchCommand } from "../dispatch/dispatch-command.js";
import { refuseCaller } from "./caller-checks.js";
import { screenshotImages } from "./screenshot-image.js";

type DispatchCommonArgs = z.output<typeof DispatchCommonArgsSchema>;

/** The catalog's hints about a command, as MCP annotations; a read-only command is idempotent. */
function annotationsOf(command: DispatchCommand): Omit<ToolAnnotations, "title"> {
  const readOnly = command.readOnly ?? false;
  return { readOnlyHint: readOnly, destructiveHint: command.destructive ?? false, idempotentHint: readOnly, openWorldHint: command.openWorld ?? false };
}

/** `get_scene_info` → "Get scene info". */
const titleOf = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1).replaceAll("_", " ")}`;

/**
 * execute_code's printed output at the top of its answer, `stdout` and `stderr`, so a client
 * reads `structuredContent.stdout` rather than digging into the JSON text of `result`.
 */
function withPrintedOutput<Answer extends { status: string }>(answer: Answer): Answer {
  const text = (answer as { result?: unknown }).result;
  if (typeof text !== "string" || text === "") return answer;
  try {
    const printed = JSON.parse(text) as { result?: unknown; stdout?: unknown; stderr?: unknown };
    if (typeof printed.result !== "string") return answer;
    return { ...answer, stdout: typeof printed.stdout === "string" ? printed.stdout : printed.result, stderr: typeof printed.stderr === "string" ? printed.stderr : "" };
  } catch {
    return answer;
  }
}

function createDispatchTool(command: DispatchCommand): ToolDefinition {
  const defaultTimeout = TIMEOUT_TIERS[command.timeout];
  return defineTool({
    name: `blender_${command.name}`,
    title: titleOf(command.name),
    annotations: annotationsOf(command),
    outputSchema: DispatchResultSchema,
    structured: withParsedResult,
    description:
      `${command.description} Waits up to ${defaultTimeout} s (_timeout to change); work not started by then never starts. ` +
      "Pass a _request_id and reuse it when you retry, so a retry never runs the command twice.",
    inputSchema: command.params.extend(DispatchCommonArgsSchema.shape),
    async handler(input, context) {
      // The catalog's schemas are generic objects; the common arguments are known to be there.
      const { target_uuid, _timeout, bus_id, _request_id, ...params } = input as DispatchCommonArgs & Record<string, unknown>;
      const refusal = refuseCaller(context, bus_id);
      if (refusal) return refusal;
      const answer = await dispatchCommand(context, {
        tool: `blender_${command.name}`,
        command: command.name,
        params,
        selector: target_uuid,
        requestId: _request_id,
        timeoutSeconds: _timeout ?? defaultTimeout,
      });
      if (command.name === "get_viewport_screenshot") return withImages(answer, await screenshotImages(context, answer));
      return command.name === "execute_code" ? withPrintedOutput(answer) : answer;
    },
  });
}

export const createDispatchTools = (): ToolDefinition[] => DISPATCH_COMMANDS.map(createDispatchTool);
