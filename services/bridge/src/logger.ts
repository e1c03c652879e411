import { pino, type Logger } from "pino";

export type { Logger };

/** JSON lines on stdout, the same format as the gateway's. */
export const createLogger = (name: string, level: string): Logger => pino({ name, level });
