import { pino, type Logger } from "pino";

export type { Logger };

/** Secrets that must never reach a log line, wherever they sit in a logged object. */
const REDACTED_PATHS = ["authorization", "*.authorization", "token", "*.token", "seed", "*.seed", "creds", "*.creds"];

/** JSON lines on stdout, the same format as the gateway's and the bridges'. */
export const createLogger = (name: string, level: string): Logger => pino({ name, level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } });
