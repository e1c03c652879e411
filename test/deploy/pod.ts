/**
 * A container of a manifest, run here from the repository's build output (`npm run build`, what
 * the images run) with exactly the environment the manifest sets, but for what the pod gives it:
 * Service names resolve (`localUrl`), mounted Secrets and emptyDirs are folders under the pod's
 * own, and ports the caller names are free ones (a pod has every port to itself).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { spawnTracked, stopChild } from "@blender-fabric/testkit";
import type { Secrets } from "./chart-cluster.js";

export type Container = { name: string; command: string[]; env?: { name: string; value?: string; valueFrom?: unknown }[]; volumeMounts?: { name: string; mountPath: string }[] };
export type PodSpec = { containers: Container[]; volumes?: { name: string; secret?: { secretName: string }; emptyDir?: object }[] };

export type RunningPod = { env: Record<string, string>; logs(): string; stop(): Promise<void> };

export type PodOptions = {
  repositoryRoot: string;
  secrets: Secrets;
  /** Rewrites a value that names a place in the cluster (a Service URL). */
  localUrl: (value: string) => string;
  /** The manifest's variable → the value this machine needs instead (ports, an identity provider). */
  overrides?: Record<string, string>;
  /** Variables the manifest reads from a Secret (valueFrom), with the Secret's value. */
  fromSecrets?: Record<string, string>;
};

export function runPod(spec: PodSpec, options: PodOptions): RunningPod {
  const [container, ...others] = spec.containers;
  if (!container || others.length > 0) throw new Error("one container per pod here");
  const root = mkdtempSync(join(tmpdir(), `fabric-pod-${container.name}-`));
  const mounts = container.volumeMounts ?? [];
  for (const mount of mounts) {
    const folder = join(root, mount.mountPath);
    mkdirSync(folder, { recursive: true });
    const secretName = spec.volumes?.find((volume) => volume.name === mount.name)?.secret?.secretName;
    if (secretName === undefined) continue;
    const files = options.secrets[secretName];
    if (!files) throw new Error(`the pod mounts Secret ${secretName}, which was not made`);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(folder, file), text, { mode: 0o400 });
  }
  const env: Record<string, string> = {};
  for (const { name, value, valueFrom } of container.env ?? []) {
    if (valueFrom !== undefined) {
      const secret = options.fromSecrets?.[name];
      if (secret === undefined) throw new Error(`${name} comes from a Secret the test did not give`);
      env[name] = secret;
      continue;
    }
    let local = options.localUrl(value!);
    const mount = mounts.find((candidate) => local.startsWith(`${candidate.mountPath}/`) || local === candidate.mountPath);
    if (mount) local = join(root, local);
    env[name] = options.overrides?.[name] ?? local;
  }
  const [program, script, ...rest] = container.command;
  if (program !== "node") throw new Error(`${container.name} runs ${program}`);
  const child: ChildProcess = spawnTracked(process.execPath, [join(options.repositoryRoot, script!), ...rest], {
    cwd: options.repositoryRoot,
    stdio: ["ignore", "pipe", "pipe"],
    // Only what the image's environment and the manifest give: PATH and HOME, nothing of this shell.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, ...env },
  });
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-16_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return {
    env,
    logs: () => log,
    async stop() {
      await stopChild(child);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
