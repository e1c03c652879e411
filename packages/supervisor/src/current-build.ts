/**
 * Whether a service's build output (`dist`, from `npm run build`) is current: what a process
 * that runs from source (`npm start`, tests) may start instead of transpiling the service's
 * source under tsx on every start, which cost a bridge about 0.4 s on a loaded 2-core machine
 * before it could start its Blender (a cold start on demand waits for that).
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** The workspace folders (packages/*, services/*), whose package names the built service imports by. */
const WORKSPACE_PARENTS = ["packages", "services"];
const WORKSPACE_SCOPE = "@blender-fabric/";

type Workspace = { folder: string; dependencies: string[] };

function readWorkspaces(): Map<string, Workspace> {
  const workspaces = new Map<string, Workspace>();
  for (const parent of WORKSPACE_PARENTS) {
    for (const name of readdirSync(join(repositoryRoot, parent))) {
      const folder = join(repositoryRoot, parent, name);
      try {
        const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { name?: string; dependencies?: Record<string, string> };
        if (!manifest.name) continue;
        workspaces.set(manifest.name, { folder, dependencies: Object.keys(manifest.dependencies ?? {}).filter((dependency) => dependency.startsWith(WORKSPACE_SCOPE)) });
      } catch {
        // not a workspace
      }
    }
  }
  return workspaces;
}

/** Whether every source file under `src` (tests aside) has a compiled file under `dist` written after it. */
function isBuilt(folder: string, relative = ""): boolean {
  for (const entry of readdirSync(join(folder, "src", relative), { withFileTypes: true })) {
    const path = join(relative, entry.name);
    if (entry.isDirectory()) {
      if (!isBuilt(folder, path)) return false;
      continue;
    }
    if (!entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts") || entry.name.endsWith(".d.ts")) continue;
    try {
      if (statSync(join(folder, "dist", path.replace(/\.ts$/u, ".js"))).mtimeMs < statSync(join(folder, "src", path)).mtimeMs) return false;
    } catch {
      return false; // never built
    }
  }
  return true;
}

/**
 * `node services/<service>/dist/main.js` when the service and every workspace package it
 * imports (as built, through their `dist`) were built after their sources last changed;
 * undefined otherwise (a source edited since, or never built): then run it from source.
 */
export function currentBuildCommand(service: "gateway" | "bridge" | "pool"): string[] | undefined {
  const workspaces = readWorkspaces();
  const pending = [`${WORKSPACE_SCOPE}${service}`];
  const seen = new Set<string>();
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    const workspace = workspaces.get(name);
    if (!workspace || !isBuilt(workspace.folder)) return undefined;
    pending.push(...workspace.dependencies);
  }
  return [process.execPath, join(repositoryRoot, "services", service, "dist", "main.js")];
}
