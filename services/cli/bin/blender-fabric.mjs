#!/usr/bin/env node
// `npx blender-fabric …` in a checkout (npm links this file into node_modules/.bin): runs the
// CLI from its TypeScript source under tsx, as `npm start` does, so it is never a stale build.
// Plain JavaScript: it must run before anything is compiled.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
// tsx as installed for this checkout, wherever the command is run from.
const tsx = import.meta.resolve("tsx");
const child = spawn(process.execPath, ["--conditions=fabric-source", "--import", tsx, main, ...process.argv.slice(2)], { stdio: "inherit" });
// A terminal's Ctrl-C reaches the CLI too (one process group); the CLI decides what it means
// (`render` cancels its job), so this launcher only waits for it. A SIGTERM is passed on.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("exit", (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 1)));
