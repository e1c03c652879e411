/**
 * Spawn mode: starts `blender -b --factory-startup --python addon/headless.py` with a
 * private port and token, and waits for the addon's `FABRIC_ADDON_READY <port>` line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const headlessScript = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "addon", "headless.py");

/** How long Blender may take to start and listen. ms */
const START_TIMEOUT_MS = 60_000;

export type BlenderProcessOptions = {
  executable: string;
  blendFile: string;
  /** JSON object of addon preferences. */
  addonPreferences: string;
  /** Receives Blender's own output lines, for the bridge's log. */
  onOutput: (line: string) => void;
};

export type RunningBlender = {
  child: ChildProcess;
  port: number;
  token: string;
  /** Resolves with a description of how the process ended. */
  exited: Promise<string>;
};

export async function startBlender(options: BlenderProcessOptions): Promise<RunningBlender> {
  const token = randomBytes(24).toString("hex");
  const args = ["-b", ...(options.blendFile ? [options.blendFile] : []), "--factory-startup", "--python", headlessScript];
  const child = spawn(options.executable, args, {
    env: {
      ...process.env,
      FABRIC_ADDON_PORT: "0",
      FABRIC_ADDON_TOKEN: token,
      FABRIC_ADDON_PREFS: options.addonPreferences,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.once("error", (error) => resolve(`could not start: ${error.message}`));
  });
  createInterface({ input: child.stderr! }).on("line", options.onOutput);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL"); // the next attempt starts a fresh one; never leave this one behind
      reject(new Error("Blender did not start its addon server within 60 s"));
    }, START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const ready = /^FABRIC_ADDON_READY (\d+)$/.exec(line.trim());
      if (ready) {
        clearTimeout(timer);
        resolve(Number(ready[1]));
      } else {
        options.onOutput(line);
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`Blender ${how} before its addon server was ready`));
    });
  });
  return { child, port, token, exited };
}
