/**
 * Mints the bearer JWTs the gateway accepts, for tests, `npm start` and benchmarks. There is
 * no default secret: a shared constant would let anyone mint a token for any user.
 */
import { SignJWT } from "jose";
import type { ROLES } from "./verify.js";

export type TokenClaims = {
  /** The user id: the bus every call of this token lands on. */
  sub: string;
  role?: (typeof ROLES)[number];
};

export type MintOptions = {
  /** The HS256 secret the gateway verifies with (its FABRIC_JWT_SECRET). */
  secret: string;
  /** e.g. "1h", "30d", or a date in seconds since the epoch. */
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
};

export async function mintToken(claims: TokenClaims, options: MintOptions): Promise<string> {
  const jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "1h");
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
