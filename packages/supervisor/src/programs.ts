/** Finds the OS programs the fabric runs (nats-server, later blender). */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Debian puts nats-server in /usr/sbin, which is not on every user's PATH. */
const EXTRA_DIRECTORIES = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];

export class MissingProgramError extends Error {
  override name = "MissingProgramError";
  constructor(readonly program: string) {
    super(
      `${program} is not installed. Run \`npm test\` (it installs it from the OS packages) ` +
        `or: sudo apt-get install -y ${program}`,
    );
  }
}

export function findProgram(program: string): string {
  const directories = [...(process.env.PATH ?? "").split(delimiter), ...EXTRA_DIRECTORIES];
  for (const directory of directories) {
    if (!directory) continue;
    const candidate = join(directory, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new MissingProgramError(program);
}
