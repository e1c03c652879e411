#!/usr/bin/env node
// Makes a fresh machine ready to run Blender Fabric, using nothing but Node and npm.
// `npm start`, `npm test` and `npm run bench` call it first. It is idempotent and quick
// when everything is already there.
//
//   1. npm packages: installs them when node_modules is missing or older than the lockfile.
//   2. OS programs (nats-server, later blender): installs them from the OS packages with
//      apt-get (directly as root, or through passwordless sudo). When that is impossible it
//      prints the exact command to run and exits with status 1.
//
// Plain JavaScript on purpose: it runs before TypeScript tooling is installed.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Programs the fabric needs on PATH, with the Debian package that provides each. */
const REQUIRED_PROGRAMS = [{ program: "nats-server", aptPackage: "nats-server" }];

function log(message) {
  process.stderr.write(`[bootstrap] ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options });
  return result.status === 0;
}

function isOnPath(program) {
  return spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0;
}

function npmPackagesAreCurrent() {
  const marker = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(marker)) return false;
  const lockfile = join(root, "package-lock.json");
  return !existsSync(lockfile) || statSync(marker).mtimeMs >= statSync(lockfile).mtimeMs;
}

function ensureNpmPackages() {
  if (npmPackagesAreCurrent()) return;
  const hasLockfile = existsSync(join(root, "package-lock.json"));
  log(`installing npm packages (${hasLockfile ? "npm ci" : "npm install"})`);
  if (!run("npm", [hasLockfile ? "ci" : "install", "--no-audit", "--no-fund"])) {
    log("npm could not install the packages; see the output above.");
    process.exit(1);
  }
}

/** How this process may run apt-get: directly, through sudo, or not at all. */
function aptPrefix() {
  if (!isOnPath("apt-get")) return undefined;
  if (process.getuid?.() === 0) return [];
  if (isOnPath("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0) {
    return ["sudo"];
  }
  return undefined;
}

function ensurePrograms() {
  const missing = REQUIRED_PROGRAMS.filter(({ program }) => !isOnPath(program));
  if (missing.length === 0) return;
  const packages = missing.map(({ aptPackage }) => aptPackage);
  const manual = `sudo apt-get update && sudo apt-get install -y ${packages.join(" ")}`;
  const prefix = aptPrefix();
  if (!prefix) {
    log(`missing: ${missing.map(({ program }) => program).join(", ")}.`);
    log(`install with:  ${manual}`);
    process.exit(1);
  }
  const apt = (args) => {
    const [command, ...rest] = [...prefix, "apt-get", ...args];
    return run(command, rest, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  };
  log(`installing OS packages: ${packages.join(" ")}`);
  const installed =
    apt(["install", "-y", "--no-install-recommends", ...packages]) ||
    (apt(["update"]) && apt(["install", "-y", "--no-install-recommends", ...packages]));
  const stillMissing = missing.filter(({ program }) => !isOnPath(program));
  if (!installed || stillMissing.length > 0) {
    log(`could not install ${stillMissing.map(({ program }) => program).join(", ")}.`);
    log(`install with:  ${manual}`);
    process.exit(1);
  }
}

ensureNpmPackages();
ensurePrograms();
