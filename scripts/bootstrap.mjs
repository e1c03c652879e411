#!/usr/bin/env node
// Makes a fresh machine ready to run Blender Fabric, using nothing but Node and npm.
// `npm start`, `npm test` and `npm run bench` call it first. It is idempotent and quick
// when everything is already there.
//
//   1. npm packages: installs them when node_modules is missing or older than the lockfile.
//   2. OS packages (nats-server, blender, numpy for Blender's Python, bubblewrap to sandbox Blender on
//      Linux, ffmpeg for preview videos, chromium for the dashboard's browser test): installs them from the OS packages with
//      apt-get (directly as root, or through passwordless sudo). When that is impossible it
//      prints the exact command to run and exits with status 1.
//   3. With --test (npm test): the official MCP conformance suite, pinned, and the Node 22 it
//      needs, from the npm packages in test/conformance/runner (their own folder, not a
//      workspace, so that Node never replaces the project's on PATH).
//
// Plain JavaScript on purpose: it runs before TypeScript tooling is installed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * What the fabric needs from the OS, with the Debian package that provides each and how to
 * tell it is there. numpy is not a program: Blender's glTF importer (PolyHaven models,
 * Sketchfab, Hyper3D) needs it, and Debian's blender package does not pull it in.
 */
const REQUIRED_PACKAGES = [
  { name: "nats-server", aptPackage: "nats-server", present: () => isOnPath("nats-server") },
  { name: "blender", aptPackage: "blender", present: () => isOnPath("blender") },
  { name: "numpy for Blender's Python", aptPackage: "python3-numpy", present: () => isDpkgInstalled("python3-numpy") },
  // The bridge starts Blender inside it (FABRIC_SANDBOX): code run in Blender must not read
  // the bridge's credentials. Only Linux has it; elsewhere Blender runs unsandboxed.
  ...(process.platform === "linux" ? [{ name: "bubblewrap (bwrap)", aptPackage: "bubblewrap", present: () => isOnPath("bwrap") }] : []),
  // A render's preview video (preview_video) is encoded by the gateway with ffmpeg.
  { name: "ffmpeg", aptPackage: "ffmpeg", present: () => isOnPath("ffmpeg") },
  // The dashboard's browser test drives Chromium (playwright-core, with this executable).
  { name: "chromium", aptPackage: "chromium", present: () => isOnPath("chromium") },
];

function log(message) {
  process.stderr.write(`[bootstrap] ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options });
  return result.status === 0;
}

function isOnPath(program) {
  // Debian puts nats-server in /usr/sbin, which is not on every user's PATH.
  return spawnSync("sh", ["-c", `command -v ${program} || test -x /usr/sbin/${program}`], { stdio: "ignore" }).status === 0;
}

function isDpkgInstalled(aptPackage) {
  const result = spawnSync("dpkg-query", ["-W", "-f=${Status}", aptPackage], { encoding: "utf8" });
  return result.status === 0 && result.stdout.includes("install ok installed");
}

/** The lockfile and every workspace manifest: when they change, packages are reinstalled. */
function dependencyFingerprint() {
  const hash = createHash("sha256");
  const manifests = ["package.json", "package-lock.json"];
  for (const folder of ["packages", "services"]) {
    const parent = join(root, folder);
    if (!existsSync(parent)) continue;
    for (const name of readdirSync(parent).sort()) manifests.push(join(folder, name, "package.json"));
  }
  for (const manifest of manifests) {
    const path = join(root, manifest);
    if (existsSync(path)) hash.update(manifest).update(readFileSync(path));
  }
  return hash.digest("hex");
}

const installStamp = join(root, "node_modules", ".fabric-install-stamp");

function ensureNpmPackages() {
  if (existsSync(installStamp) && readFileSync(installStamp, "utf8") === dependencyFingerprint()) return;
  // `npm install`, not `npm ci`: the lockfile may lack optional packages of other platforms
  // (e.g. turbo's) that a registry mirror does not carry, and `npm ci` refuses that.
  log("installing npm packages");
  if (!run("npm", ["install", "--no-audit", "--no-fund"])) {
    log("npm could not install the packages; see the output above.");
    process.exit(1);
  }
  writeFileSync(installStamp, dependencyFingerprint());
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

function ensureOsPackages() {
  const missing = REQUIRED_PACKAGES.filter(({ present }) => !present());
  if (missing.length === 0) return;
  const packages = missing.map(({ aptPackage }) => aptPackage);
  const manual = `sudo apt-get update && sudo apt-get install -y ${packages.join(" ")}`;
  const prefix = aptPrefix();
  if (!prefix) {
    log(`missing: ${missing.map(({ name }) => name).join(", ")}.`);
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
  const stillMissing = missing.filter(({ present }) => !present());
  if (!installed || stillMissing.length > 0) {
    log(`could not install ${stillMissing.map(({ name }) => name).join(", ")}.`);
    log(`install with:  ${manual}`);
    process.exit(1);
  }
}

const conformanceRunner = join(root, "test", "conformance", "runner");
const conformanceStamp = join(conformanceRunner, "node_modules", ".fabric-install-stamp");

function ensureConformanceRunner() {
  const fingerprint = createHash("sha256")
    .update(readFileSync(join(conformanceRunner, "package.json")))
    .update(readFileSync(join(conformanceRunner, "package-lock.json")))
    .digest("hex");
  if (existsSync(conformanceStamp) && readFileSync(conformanceStamp, "utf8") === fingerprint) return;
  log("installing the MCP conformance suite (test/conformance/runner)");
  if (!run("npm", ["install", "--no-audit", "--no-fund"], { cwd: conformanceRunner })) {
    log("npm could not install the conformance suite; see the output above.");
    process.exit(1);
  }
  writeFileSync(conformanceStamp, fingerprint);
}

ensureNpmPackages();
ensureOsPackages();
if (process.argv.includes("--test")) ensureConformanceRunner();
