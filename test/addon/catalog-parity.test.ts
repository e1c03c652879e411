// Issue 10, acceptance 6: the 24 commands are declared twice, as zod parameters in the
// gateway's catalog (packages/protocol/src/dispatch-commands.ts) and as the addon handlers'
// Python signatures. Every command's parameters and defaults must agree, read from both
// sources (the addon's with Python's own parser, no Blender needed).
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { z } from "zod";
import { DISPATCH_COMMANDS, type DispatchCommand } from "@blender-fabric/protocol";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A parameter as both sides declare it: with its default, or none when it is required. */
type Parameter = { name: string; default?: unknown };
type Signatures = Record<string, Parameter[]>;

function addonSignatures(): Signatures {
  const output = execFileSync("python3", [path.join(repoRoot, "addon", "tests", "handler_signatures.py")], { encoding: "utf8" });
  return JSON.parse(output) as Signatures;
}

/** What the catalog's schema does with a missing argument: fills in its default, or refuses. */
function catalogSignature(params: z.ZodObject): Parameter[] {
  return Object.entries(params.shape).map(([name, schema]) => {
    const missing = (schema as z.ZodType).safeParse(undefined);
    return missing.success ? { name, default: missing.data ?? null } : { name };
  });
}

const described = (parameter: Parameter) => ("default" in parameter ? `default ${JSON.stringify(parameter.default)}` : "required");

function differences(catalog: readonly DispatchCommand[], addon: Signatures): string[] {
  const found: string[] = [];
  const byName = (parameters: Parameter[]) => new Map(parameters.map((parameter) => [parameter.name, parameter]));
  for (const command of catalog) {
    const theirs = addon[command.name];
    if (!theirs) {
      found.push(`${command.name}: no addon handler`);
      continue;
    }
    const ours = byName(catalogSignature(command.params));
    const handler = byName(theirs);
    for (const name of new Set([...ours.keys(), ...handler.keys()])) {
      const [catalogSide, addonSide] = [ours.get(name), handler.get(name)];
      if (!catalogSide || !addonSide) found.push(`${command.name}.${name}: only in the ${catalogSide ? "catalog" : "addon"}`);
      else if (described(catalogSide) !== described(addonSide)) {
        found.push(`${command.name}.${name}: catalog ${described(catalogSide)}, addon ${described(addonSide)}`);
      }
    }
  }
  for (const name of Object.keys(addon)) if (!catalog.some((command) => command.name === name)) found.push(`${name}: not in the catalog`);
  return found;
}

test("every command's parameters and defaults agree between the gateway's catalog and the addon's handlers", () => {
  const addon = addonSignatures();
  expect(Object.keys(addon)).toHaveLength(DISPATCH_COMMANDS.length);
  expect(differences(DISPATCH_COMMANDS, addon)).toEqual([]);
});

test("the comparison sees a default or a parameter that differs on one side", () => {
  const addon = addonSignatures();
  const browse = DISPATCH_COMMANDS.find((command) => command.name === "browse_data")!;
  const changed: DispatchCommand[] = DISPATCH_COMMANDS.map((command) =>
    command === browse ? { ...command, params: browse.params.extend({ page_size: z.number().default(20), extra: z.string() }) } : command,
  );
  expect(differences(changed, addon)).toEqual([
    "browse_data.page_size: catalog default 20, addon default 50",
    "browse_data.extra: only in the catalog",
  ]);
  const { get_scene_info: _dropped, ...withoutOne } = addon;
  expect(differences(DISPATCH_COMMANDS, withoutOne)).toEqual(["get_scene_info: no addon handler"]);
});
