/**
 * The reversible token encoding of DESIGN.md section 3.
 *
 * Every identifier that becomes part of a NATS subject or a KV key (user ids, client uuids,
 * group ids, client types, job ids) goes through {@link encodeToken}. Characters outside
 * `[A-Za-z0-9_-]` become `=XX`, the upper-case hex of each UTF-8 byte, so `.`, `*`, `>` and
 * whitespace can never reach a subject, while ordinary ids stay readable in `nats sub 'user.>'`.
 */

/** Longest identifier accepted, in characters. */
export const MAX_IDENTIFIER_LENGTH = 256;

const SAFE_CHARACTER = /[A-Za-z0-9_-]/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export const TokenErrorCode = {
  Empty: "EMPTY_IDENTIFIER",
  TooLong: "IDENTIFIER_TOO_LONG",
  Malformed: "MALFORMED_TOKEN",
} as const;
export type TokenErrorCode = (typeof TokenErrorCode)[keyof typeof TokenErrorCode];

/** Raised when an identifier cannot be turned into a token, or a token back into an id. */
export class TokenError extends Error {
  override name = "TokenError";
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Encodes an identifier as a subject-safe, KV-key-safe token. Throws {@link TokenError}. */
export function encodeToken(identifier: string): string {
  if (identifier.length === 0) throw new TokenError(TokenErrorCode.Empty, "identifier is empty");
  if (identifier.length > MAX_IDENTIFIER_LENGTH) {
    throw new TokenError(
      TokenErrorCode.TooLong,
      `identifier is longer than ${MAX_IDENTIFIER_LENGTH} characters`,
    );
  }
  let token = "";
  for (const character of identifier) {
    if (SAFE_CHARACTER.test(character)) {
      token += character;
      continue;
    }
    for (const byte of encoder.encode(character)) {
      token += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return token;
}

/** Reverses {@link encodeToken}. Throws {@link TokenError} on anything it could not have produced. */
export function decodeToken(token: string): string {
  if (!/^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+$/.test(token)) {
    throw new TokenError(TokenErrorCode.Malformed, `not a fabric token: ${JSON.stringify(token)}`);
  }
  const bytes: number[] = [];
  for (let index = 0; index < token.length; ) {
    if (token[index] === "=") {
      bytes.push(Number.parseInt(token.slice(index + 1, index + 3), 16));
      index += 3;
    } else {
      bytes.push(token.charCodeAt(index));
      index += 1;
    }
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch (cause) {
    throw new TokenError(TokenErrorCode.Malformed, `token is not valid UTF-8: ${token}`);
  }
}
