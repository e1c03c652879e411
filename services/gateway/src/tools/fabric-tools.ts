/** Every tool the gateway serves, in `tools/list` order: bus, inbox, 24 dispatch, jobs, farm, artifacts. */
import type { ToolDefinition } from "../mcp/tool-catalog.js";
import { createBusTools } from "./bus-tools.js";
import { createInboxTools } from "./inbox-tools.js";
import { createDispatchTools } from "./dispatch-tools.js";
import { createJobTools } from "./job-tools.js";
import { createFarmTools } from "./farm-tools.js";
import { createArtifactTools } from "./artifact-tools.js";

export const createFabricTools = (options: { maxPayloadBytes: number }): ToolDefinition[] => [
  ...createBusTools(options),
  ...createInboxTools(),
  ...createDispatchTools(),
  ...createJobTools(),
  ...createFarmTools(),
  ...createArtifactTools(),
];
