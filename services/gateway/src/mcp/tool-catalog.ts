/**
 * The tool catalog: each tool's name, title, description, annotations, zod input and output
 * schemas, and handler.
 *
 * JSON schemas for `tools/list` are computed once per process (building them per request
 * halves throughput, DESIGN.md section 4). Calls validate arguments with zod; invalid
 * arguments come back as an `invalid_params` result naming the field, never as an exception.
 * Every answer is the seed's JSON text, plus the same answer as `structuredContent` (checked
 * by clients against the tool's output schema) and `isError: true` when its status is a
 * failure.
 */
import { z } from "zod";
import type { CallToolResult, ImageContent, Tool, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { isErrorStatus, toInvalidParamsResult } from "@blender-fabric/protocol";
import type { ToolContext } from "./tool-context.js";
import { tidySchema } from "./json-schema-tidy.js";

/**
 * Content blocks a tool answers beside its JSON text (a screenshot as an image, so the LLM
 * sees it). A symbol key: JSON.stringify leaves it out of the text.
 */
const IMAGES = Symbol("images");

/** The answer `body` with `images` as extra content blocks after its JSON text. */
export const withImages = <Body extends { status: string }>(body: Body, images: ImageContent[]): Body =>
  Object.assign(body, { [IMAGES]: images });

type Answer = { status: string; [key: string]: unknown };

export type ToolDefinition<Input extends z.ZodType = z.ZodType> = {
  name: string;
  /** A human-readable name for client UIs. */
  title: string;
  description: string;
  /** Honest hints: whether it only reads, may destroy, is idempotent, reaches outside services. */
  annotations: Omit<ToolAnnotations, "title">;
  inputSchema: Input;
  /** The answer's shape; `structuredContent` of every successful call validates against it. */
  outputSchema: z.ZodType;
  /** Returns the JSON object the tool answers with; it must carry a `status` field. */
  handler: (input: z.output<Input>, context: ToolContext) => Promise<{ status: string }>;
  /** Whether an answer is a failure; default: its status is one of TOOL_ERROR_STATUSES. */
  isError?: (answer: Answer) => boolean;
  /** The answer as structured content; default: the answer itself. */
  structured?: (answer: Answer) => Record<string, unknown>;
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

const asResult = (body: { status: string; [IMAGES]?: ImageContent[] }, tool?: ToolDefinition): CallToolResult => {
  const text = JSON.stringify(body);
  // The text read back: the answer as plain JSON (no undefined fields, and no symbol key of
  // image blocks, which the SDK refuses in structuredContent), which `structured` reshapes.
  const answer = JSON.parse(text) as Answer;
  const isError = tool?.isError ? tool.isError(answer) : isErrorStatus(body.status);
  const structuredContent = tool?.structured ? tool.structured(answer) : answer;
  return {
    content: [{ type: "text", text }, ...(body[IMAGES] ?? [])],
    structuredContent,
    ...(isError ? { isError } : {}),
  };
};

export function createToolCatalog(definitions: ToolDefinition[]): ToolCatalog {
  const byName = new Map(definitions.map((tool) => [tool.name, tool]));
  const tools: Tool[] = definitions.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    annotations: { title: tool.title, ...tool.annotations },
    inputSchema: tidySchema(z.toJSONSchema(tool.inputSchema, { io: "input" })) as Tool["inputSchema"],
    outputSchema: tidySchema(z.toJSONSchema(tool.outputSchema, { io: "output" })) as Tool["outputSchema"],
  }));
  return {
    tools,
    async call(name, args, context) {
      const tool = byName.get(name);
      if (!tool) throw new UnknownToolError(name);
      const parsed = tool.inputSchema.safeParse(args ?? {});
      if (!parsed.success) return asResult(toInvalidParamsResult(parsed.error));
      return asResult(await tool.handler(parsed.data, context), tool);
    },
  };
}
