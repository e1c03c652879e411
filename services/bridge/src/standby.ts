/**
 * A bridge started ahead of demand (FABRIC_STANDBY=true), so that a cold start on demand
 * waits neither for Node to start nor for the bridge's modules: a pool keeps one such
 * process. It loads all of itself and checks the sandbox, then waits, idle and as nobody,
 * until its parent names the peer it is to be: that peer's whole environment as one JSON line
 * on stdin. It then becomes exactly the process a fresh start with that environment would
 * be (Blender starts at once, main.ts goes on as usual). Its parent going away first (stdin
 * closes) ends it.
 */
import { chooseSandbox } from "./blender-sandbox.js";

/**
 * What main.ts imports after Blender has started. Loaded here ahead of time; a module
 * missing from this list is only loaded later, when the peer starts.
 */
const BRIDGE_MODULES = [
  "./env.js",
  "./logger.js",
  "./blender-peer.js",
  "./bridge.js",
  "./blend-cache.js",
  "./minted-credentials.js",
  "./project-keeper.js",
  "@blender-fabric/bus",
  "@blender-fabric/engine",
  "@blender-fabric/protocol",
  "@blender-fabric/supervisor",
];

/** The longest identity line accepted: an environment, not a stream. Bytes */
const MAX_IDENTITY_BYTES = 1 << 20;

/** The first line on stdin, or undefined when stdin ends first. */
function firstLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    let received = "";
    const onData = (chunk: Buffer) => {
      received += chunk.toString("utf8");
      const end = received.indexOf("\n");
      if (end < 0 && received.length <= MAX_IDENTITY_BYTES) return;
      finish(end < 0 ? undefined : received.slice(0, end));
    };
    const onEnd = () => finish(undefined);
    const finish = (line: string | undefined) => {
      process.stdin.off("data", onData).off("end", onEnd).off("close", onEnd);
      process.stdin.pause(); // main.ts resumes it when it watches for its parent's end
      resolve(line);
    };
    process.stdin.on("data", onData).once("end", onEnd).once("close", onEnd);
  });
}

/** Replaces this process's environment with `next`, as if it had been started with it. */
function becomeEnvironment(next: Record<string, string>): void {
  for (const name of Object.keys(process.env)) if (!(name in next)) delete process.env[name];
  Object.assign(process.env, next);
}

/** Loads the bridge, then waits for the peer's environment; exits when the parent goes first. */
export async function waitAsStandby(): Promise<void> {
  // Sequential: a standby has no hurry, and it must not crowd a Blender starting beside it.
  for (const specifier of BRIDGE_MODULES) await import(specifier);
  // The probe's verdict is kept for the peer (blender-sandbox.ts), which decides what it means.
  if (process.env.FABRIC_SANDBOX !== "off") chooseSandbox("auto", () => {});
  const line = await firstLine();
  if (line === undefined) process.exit(0); // the parent went before it needed this bridge
  let identity: unknown;
  try {
    identity = JSON.parse(line);
  } catch {
    identity = undefined;
  }
  const valid = typeof identity === "object" && identity !== null && Object.values(identity).every((value) => typeof value === "string");
  if (!valid) throw new Error("a standby bridge was given an identity that is not a JSON object of strings");
  becomeEnvironment(identity as Record<string, string>);
}
