/**
 * Demand as the pool acts on it: the lanes with work (work-demand.ts), counting only live
 * work. Each lane is walked (the engine's walkLane): messages whose job has ended (expired,
 * cancelled, a cancelled farm job's tasks) are deleted from the stream, so no Blender starts
 * for work that will never run.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { subjectForAllGroupWork, subjectForAllUserFarmWork, subjectForProjectWork } from "@blender-fabric/protocol";
import { readWorkDemand, type WorkDemand } from "@blender-fabric/bus";
import { walkLane, type JobStore, type LiveWork } from "@blender-fabric/engine";

/** A lane's demand, live work only; for a project, the jobs that wait (oldest first, a few). */
export type LiveDemand = WorkDemand & { waiting: LiveWork[] };

/** How many of a project's waiting jobs are read (and told why they wait). */
const PROJECT_JOBS_READ = 8;
/** Most messages read per lane per look: a long backlog of dead work is pruned over several looks. */
const MAX_LOOKS_PER_LANE = 64;

const laneOf = (demand: WorkDemand): string =>
  demand.kind === "project"
    ? subjectForProjectWork(demand.userId, demand.projectId)
    : demand.kind === "group"
      ? subjectForAllGroupWork(demand.userId, demand.groupId)
      : subjectForAllUserFarmWork(demand.userId);

/**
 * The lanes with live work; `enoughPeers` bounds how far a farm lane is read (the pool's
 * size). Only lanes `undecided` says the pool would act on are walked: a project whose peer
 * runs, or a group with peers enough, passes as the stream counts it (its peers take its
 * work, dead work included), so a busy project's every call does not cost a walk.
 */
export async function readLiveDemand(
  jsm: JetStreamManager,
  jobs: JobStore,
  enoughPeers: number,
  undecided: (wanted: WorkDemand) => boolean,
): Promise<LiveDemand[]> {
  const demand = await readWorkDemand(jsm);
  const walked = await Promise.all(
    demand.map(async (wanted): Promise<LiveDemand | undefined> => {
      if (!undecided(wanted)) return { ...wanted, waiting: [] };
      const enough = wanted.kind === "project" ? PROJECT_JOBS_READ : Math.min(wanted.messages, enoughPeers);
      const walk = await walkLane(jsm, jobs, wanted.userId, laneOf(wanted), { enough, maxLooks: MAX_LOOKS_PER_LANE });
      if (walk.live.length === 0) return undefined;
      // A farm lane read only up to `enough`: the rest is counted as the stream counts it.
      const messages = walk.complete ? walk.live.length : Math.max(walk.live.length, wanted.messages - walk.deleted);
      return { ...wanted, messages, waiting: wanted.kind === "project" ? walk.live : [] };
    }),
  );
  return walked.filter((wanted) => wanted !== undefined);
}
