/** What makes an HS256 secret fit to sign the fabric's tokens, and how a fresh one is made. */
import { randomBytes } from "node:crypto";

/** Shortest secret accepted: 32 characters. A fresh one (32 random bytes, base64url) has 43. */
export const MIN_JWT_SECRET_LENGTH = 32;

/**
 * Secrets once published in this repository (the old dev default). Anyone can sign a token
 * for any user with them, so they are refused wherever a secret is configured.
 */
const PUBLISHED_JWT_SECRETS: ReadonlySet<string> = new Set(["blender-fabric-dev-secret-change-me"]);

/** A new random secret: 32 bytes from the OS's CSPRNG, base64url (43 characters). */
export const newJwtSecret = (): string => randomBytes(32).toString("base64url");

/** Why `secret` must not be used, or undefined when it may. */
export function jwtSecretProblem(secret: string): string | undefined {
  if (PUBLISHED_JWT_SECRETS.has(secret)) return "it is the old public dev secret, which anyone can sign tokens with; generate your own (e.g. `openssl rand -hex 32`)";
  if (secret.length < MIN_JWT_SECRET_LENGTH) return `it has ${secret.length} characters, fewer than ${MIN_JWT_SECRET_LENGTH} (e.g. \`openssl rand -hex 32\`)`;
  return undefined;
}
