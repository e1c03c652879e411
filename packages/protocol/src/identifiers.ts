/**
 * Identifiers a caller supplies (client uuids, group ids, client types, job ids). They are
 * encoded before they touch NATS anyway (see tokens.ts); refusing the NATS wildcard and
 * separator characters up front tells the caller plainly instead of silently renaming.
 */
import { z } from "zod";
import { MAX_IDENTIFIER_LENGTH } from "./tokens.js";

const FORBIDDEN = /[.*>\s]/u;

export const IdentifierSchema = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_IDENTIFIER_LENGTH, `must be at most ${MAX_IDENTIFIER_LENGTH} characters`)
  .refine((value) => !FORBIDDEN.test(value), {
    message: "must not contain '.', '*', '>' or whitespace",
  });
