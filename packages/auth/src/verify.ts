/**
 * Verifies bearer JWTs: an HS256 shared secret (dev default) or a JWKS URL with issuer and
 * audience (production). `sub` is the user id; `role` optionally limits what a token may do.
 */
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";

export const ROLES = ["llm-client", "blender-client"] as const;

const ClaimsSchema = z.object({
  sub: z.string().min(1).max(256),
  role: z.enum(ROLES).optional(),
});

export type VerifiedIdentity = { userId: string; role: (typeof ROLES)[number] | undefined };

export type VerifierOptions =
  | { kind: "secret"; secret: string; issuer?: string; audience?: string }
  | { kind: "jwks"; jwksUrl: string; issuer: string; audience: string };

export const AuthErrorCode = {
  Missing: "MISSING_TOKEN",
  Invalid: "INVALID_TOKEN",
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

export class AuthError extends Error {
  override name = "AuthError";
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type TokenVerifier = (token: string | undefined) => Promise<VerifiedIdentity>;

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  // jose refuses `alg: none` on its own; naming the algorithms also refuses a token signed
  // with an asymmetric key presented where the shared secret is expected, and vice versa.
  const key: Uint8Array | JWTVerifyGetKey =
    options.kind === "secret"
      ? new TextEncoder().encode(options.secret)
      : createRemoteJWKSet(new URL(options.jwksUrl));
  const algorithms = options.kind === "secret" ? ["HS256"] : ["RS256", "ES256", "EdDSA"];
  const verified = new VerifiedTokens();
  return async function verifyToken(token) {
    if (!token) throw new AuthError(AuthErrorCode.Missing, "a Bearer token is required");
    const known = verified.get(token);
    if (known) return known;
    try {
      const { payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ["sub", "exp"],
      });
      const claims = ClaimsSchema.parse(payload);
      const identity = { userId: claims.sub, role: claims.role };
      verified.remember(token, identity, payload.exp!);
      return identity;
    } catch (cause) {
      throw new AuthError(AuthErrorCode.Invalid, "the token is invalid or expired", { cause });
    }
  };
}

/** Tokens remembered at most; the oldest go first. */
const REMEMBERED_TOKENS = 10_000;

/**
 * Tokens that passed verification, until they expire. A client sends the same token with
 * every request, and checking its signature again cost more than the rest of the auth step.
 * The key is the whole token text: a token that differs in any byte is verified afresh.
 */
class VerifiedTokens {
  readonly #byToken = new Map<string, { identity: VerifiedIdentity; expires: number }>();

  get(token: string): VerifiedIdentity | undefined {
    const known = this.#byToken.get(token);
    if (!known) return undefined;
    if (Date.now() / 1000 < known.expires) return known.identity;
    this.#byToken.delete(token);
    return undefined;
  }

  /** `expires`: the token's `exp`, seconds since the epoch. */
  remember(token: string, identity: VerifiedIdentity, expires: number): void {
    this.#byToken.set(token, { identity, expires });
    if (this.#byToken.size > REMEMBERED_TOKENS) this.#byToken.delete(this.#byToken.keys().next().value!);
  }
}
