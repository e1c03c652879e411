import { defineConfig } from "vitest/config";

/** Workspace packages resolve to their TypeScript sources: no build step for tests. */
const conditions = ["fabric-source", "import", "module", "node", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["fabric-source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "test/bench/**"],
    // Real servers start in these tests; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
