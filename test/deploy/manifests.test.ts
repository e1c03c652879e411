// Issue 9 (deploy/, first part): every manifest in deploy/ parses, every environment variable
// it (or a Dockerfile) sets is one the service reads, and every command it runs is a build
// output of the repository's own sources.
import { expect, test } from "vitest";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { GatewayEnvSchema } from "../../services/gateway/src/env.js";
import { BridgeEnvSchema } from "../../services/bridge/src/env.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const deploy = join(root, "deploy");
const ENV_KEYS: Record<string, Set<string>> = {
  gateway: new Set(Object.keys(GatewayEnvSchema.shape)),
  bridge: new Set(Object.keys(BridgeEnvSchema.shape)),
};

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const manifests = filesUnder(deploy).filter((path) => /\.ya?ml$/u.test(path));
const dockerfiles = filesUnder(deploy).filter((path) => path.endsWith("Dockerfile"));

/** `node services/x/dist/main.js` runs a build output: its source exists and the build emits dist from src. */
function isBuildOutput(script: string): boolean {
  const match = /^services\/([^/]+)\/dist\/(.+)\.js$/u.exec(script);
  if (!match) return false;
  const [, service, file] = match;
  const build = JSON.parse(readFileSync(join(root, "services", service!, "tsconfig.build.json"), "utf8")) as { compilerOptions: { outDir: string; rootDir: string } };
  return build.compilerOptions.outDir === "dist" && build.compilerOptions.rootDir === "src" && existsSync(join(root, "services", service!, "src", `${file}.ts`));
}

type Container = { name: string; command?: string[]; env?: { name: string }[] };

test("every manifest in deploy/ parses", () => {
  expect(manifests.length).toBeGreaterThan(3);
  for (const path of manifests) {
    for (const document of parseAllDocuments(readFileSync(path, "utf8"))) {
      expect(document.errors, relative(root, path)).toEqual([]);
    }
  }
});

test("containers set only variables their service reads, and run its build output", () => {
  let checked = 0;
  for (const path of manifests) {
    for (const document of parseAllDocuments(readFileSync(path, "utf8"))) {
      const containers = (document.toJS() as { spec?: { template?: { spec?: { containers?: Container[] } } } } | null)?.spec?.template?.spec?.containers ?? [];
      for (const container of containers) {
        const keys = ENV_KEYS[container.name];
        expect(keys, `${relative(root, path)}: container ${container.name} is not a fabric service`).toBeDefined();
        for (const { name } of container.env ?? []) expect(keys!.has(name), `${relative(root, path)}: ${container.name} does not read ${name}`).toBe(true);
        expect(container.command?.[0]).toBe("node");
        expect(isBuildOutput(container.command![1]!), `${relative(root, path)}: ${container.command!.join(" ")}`).toBe(true);
        checked += 1;
      }
    }
  }
  expect(checked).toBeGreaterThanOrEqual(2);
});

test("Dockerfiles set only variables their service reads, and run its build output", () => {
  expect(dockerfiles.map((path) => relative(deploy, path)).sort()).toEqual(["docker/bridge.Dockerfile", "docker/gateway.Dockerfile"]);
  for (const path of dockerfiles) {
    const service = /(\w+)\.Dockerfile$/u.exec(path)![1]!;
    const text = readFileSync(path, "utf8");
    const variables = [...text.matchAll(/^ENV (.+)$/gmu)].flatMap((line) => line[1]!.split(/\s+/u).map((pair) => pair.split("=")[0]!));
    for (const name of variables) expect(ENV_KEYS[service]!.has(name), `${service}.Dockerfile sets ${name}`).toBe(true);
    const command = JSON.parse(/^CMD (.+)$/mu.exec(text)![1]!) as string[];
    expect(command[0]).toBe("node");
    expect(isBuildOutput(command[1]!), `${service}.Dockerfile runs ${command[1]}`).toBe(true);
  }
});
