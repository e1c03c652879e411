/**
 * The tool catalog: each tool's name, description, zod input schema and handler.
 *
 * JSON schemas for `tools/list` are computed once per process (building them per request
 * halves throughput, DESIGN.md section 4). Calls validate arguments with zod; invalid
 * arguments come back as an `invalid_params` result naming the field, never as an exception.
 */
import { z } from "zod";
import type { CallToolResult, ImageContent, Tool } from "@modelcontextprotocol/sdk/types.js";
import { toInvalidParamsResult } from "@blender-fabric/protocol";
import type { ToolContext } from "./tool-context.js";

/**
 * Content blocks a tool answers beside its JSON text (a screenshot as an image, so the LLM
 * sees it). A symbol key: JSON.stringify leaves it out of the text.
 */
const IMAGES = Symbol("images");

/** The answer `body` with `images` as extra content blocks after its JSON text. */
export const withImages = <Body extends { status: string }>(body: Body, images: ImageContent[]): Body =>
  Object.assign(body, { [IMAGES]: images });

export type ToolDefinition<Input extends z.ZodType = z.ZodType> = {
  name: string;
  description: string;
  inputSchema: Input;
  /** Returns the JSON object the tool answers with; it must carry a `status` field. */
  handler: (input: z.output<Input>, context: ToolContext) => Promise<{ status: string }>;
};

/** Keeps the handler's input type tied to its schema. */
export const defineTool = <Input extends z.ZodType>(tool: ToolDefinition<Input>) =>
  tool as unknown as ToolDefinition;

export class UnknownToolError extends Error {
  override name = "UnknownToolError";
  constructor(readonly toolName: string) {
    super(`unknown tool: ${toolName}`);
  }
}

export type ToolCatalog = {
  /** The `tools/list` answer, computed once. */
  readonly tools: Tool[];
  call(name: string, args: unknown, context: ToolContext): Promise<CallToolResult>;
};

const asResult = (body: { status: string; [IMAGES]?: ImageContent[] }, isError = false): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(body) }, ...(body[IMAGES] ?? [])],
  ...(isError ? { isError } : {}),
});

export function createToolCatalog(definitions: ToolDefinition[]): ToolCatalog {
  const byName = new Map(definitions.map((tool) => [tool.name, tool]));
  const tools: Tool[] = definitions.map((tool) => ({
    name: tool.name,
    description: tool.description,
    inputSchema: z.toJSONSchema(tool.inputSchema, { io: "input" }) as Tool["inputSchema"],
  }));
  return {
    tools,
    async call(name, args, context) {
      const tool = byName.get(name);
      if (!tool) throw new UnknownToolError(name);
      const parsed = tool.inputSchema.safeParse(args ?? {});
      if (!parsed.success) return asResult(toInvalidParamsResult(parsed.error), true);
      return asResult(await tool.handler(parsed.data, context));
    },
  };
}
