/**
 * The local fabric's JWT secret: random per install, in `<data dir>/jwt-secret` (mode 0600),
 * made by the first `blender-fabric up` and kept for the next. The gateway `up` starts verifies
 * with it, and `blender-fabric token` signs with it when FABRIC_JWT_SECRET is not set.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { jwtSecretProblem, newJwtSecret } from "@blender-fabric/auth";

/** The secret's file in a data directory (`.fabric/jwt-secret` for `npm start`). */
export const jwtSecretFile = (dataDirectory: string) => join(dataDirectory, "jwt-secret");

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT";

/** The secret in `path`, refused when unfit (the gateway would refuse it too). */
async function readSecretFile(path: string): Promise<string> {
  const secret = (await readFile(path, "utf8")).trim();
  const problem = jwtSecretProblem(secret);
  if (problem) throw new Error(`${path} holds no usable JWT secret (${problem}); delete it and run \`blender-fabric up\` again`);
  return secret;
}

/** The local secret, made on first use; its file is (again) mode 0600 either way. */
export async function ensureLocalJwtSecret(dataDirectory: string): Promise<string> {
  const path = jwtSecretFile(dataDirectory);
  await mkdir(dataDirectory, { recursive: true });
  try {
    // `wx`: a secret that exists is never replaced; tokens signed with it stay valid.
    await writeFile(path, `${newJwtSecret()}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  await chmod(path, 0o600); // also tightens a file someone loosened
  return readSecretFile(path);
}

/**
 * The secret `blender-fabric token` signs with: FABRIC_JWT_SECRET, else the local fabric's
 * file. Never a built-in one: with neither, it fails and says what to do.
 */
export async function findJwtSecret(dataDirectory: string, environment: NodeJS.ProcessEnv = process.env): Promise<string> {
  const configured = environment.FABRIC_JWT_SECRET;
  if (configured !== undefined) {
    const problem = jwtSecretProblem(configured);
    if (problem) throw new Error(`FABRIC_JWT_SECRET is unusable: ${problem}`);
    return configured;
  }
  const path = jwtSecretFile(dataDirectory);
  try {
    return await readSecretFile(path);
  } catch (error) {
    if (!isMissing(error)) throw error;
    throw new Error(`no JWT secret to sign with: set FABRIC_JWT_SECRET to your gateway's, or run \`blender-fabric up\` once (it makes ${path})`, { cause: error });
  }
}
