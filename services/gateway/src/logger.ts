import { pino, type Logger } from "pino";

export type { Logger };

/** JSON lines on stdout; one line per event, readable with `jq` or any log shipper. */
export const createLogger = (name: string, level: string): Logger => pino({ name, level });
