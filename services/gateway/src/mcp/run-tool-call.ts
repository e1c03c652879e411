/**
 * One tool call, as both MCP generations serve it: the catalog runs the tool, the call is
 * counted and timed, and an infrastructure fault (e.g. NATS unreachable) still comes back as
 * a result the LLM can read, with the details in the log. An unknown tool is the caller's
 * mistake: -32602.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { UnknownToolError, type ToolCatalog } from "./tool-catalog.js";
import { RpcError } from "./rpc-error.js";
import type { ToolContext } from "./tool-context.js";
import type { GatewayMetrics } from "../metrics.js";
import type { Logger } from "../logger.js";

export type ToolCallDependencies = {
  catalog: ToolCatalog;
  metrics: GatewayMetrics;
  logger: Logger;
};

export async function runToolCall(
  { catalog, metrics, logger }: ToolCallDependencies,
  name: string,
  args: unknown,
  context: ToolContext,
): Promise<CallToolResult> {
  const stopTimer = metrics.toolSeconds.startTimer({ tool: name });
  try {
    const result = await catalog.call(name, args, context);
    metrics.toolCalls.inc({ tool: name, status: String(result.structuredContent?.status ?? "ok") });
    return result;
  } catch (error) {
    if (error instanceof UnknownToolError) throw new RpcError(ErrorCode.InvalidParams, error.message);
    logger.error({ err: error, tool: name }, "tool failed");
    metrics.toolCalls.inc({ tool: name, status: "error" });
    const message = error instanceof Error ? error.message : String(error);
    return {
      content: [{ type: "text", text: JSON.stringify({ status: "error", error: message }) }],
      isError: true,
    };
  } finally {
    stopTimer();
  }
}

/**
 * Reports a call's progress (0..1) as `notifications/progress` to a client that gave a
 * progress token. MCP wants progress to grow with each notification, so a report that does
 * not is dropped.
 */
export type ProgressNotification = {
  method: "notifications/progress";
  params: { progressToken: string | number; progress: number; total: number; message?: string };
};

export function progressNotifier(progressToken: string | number, send: (notification: ProgressNotification) => void) {
  let last = -1;
  return (fraction: number, message: string) => {
    if (fraction <= last) return;
    last = fraction;
    send({ method: "notifications/progress", params: { progressToken, progress: fraction, total: 1, ...(message ? { message } : {}) } });
  };
}
