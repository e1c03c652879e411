/**
 * Demand for Blender peers, read off the work stream (seed 004, DESIGN.md section 10): work
 * waiting on `FABRIC_WORK` for a project, a farm group or a tenant's farm pool. The pool
 * starts peers for it; in a cluster, KEDA reads the same thing (the consumers' pending
 * counts). A work-queue stream keeps a message until a peer acknowledges it, so a subject's
 * message count is the work not yet done there: waiting, or held by a peer running it.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import {
  EnvelopeSchema,
  FarmTaskSchema,
  StreamName,
  WORK_STREAM_SUBJECTS,
  decodeToken,
  subjectForGroupWork,
  subjectForUserFarmWork,
  FARM_PRIORITIES,
} from "@blender-fabric/protocol";
import { parseJsonSafely } from "./safe-json.js";

/** Work waiting for peers of one kind: a project's, a group's, or the tenant's farm pool's. */
export type WorkDemand =
  | { kind: "project"; userId: string; projectId: string; messages: number }
  | { kind: "group"; userId: string; groupId: string; messages: number }
  | { kind: "farm"; userId: string; messages: number };

/**
 * The demand for peers now: one entry per project, group and farm pool with work in the
 * stream. Work for a named peer is not demand: only that peer can take it.
 */
export async function readWorkDemand(jsm: JetStreamManager): Promise<WorkDemand[]> {
  const info = await jsm.streams.info(StreamName.Work, { subjects_filter: WORK_STREAM_SUBJECTS });
  const byKey = new Map<string, WorkDemand>();
  for (const [subject, messages] of Object.entries(info.state.subjects ?? {})) {
    const demand = parseWorkSubject(subject, messages);
    if (!demand) continue;
    const key = demandKey(demand);
    const known = byKey.get(key);
    if (known) known.messages += messages;
    else byKey.set(key, demand);
  }
  return [...byKey.values()];
}

/** One name per project, group or farm pool of one user. */
export function demandKey(demand: Pick<WorkDemand, "kind" | "userId"> & { projectId?: string; groupId?: string }): string {
  return JSON.stringify([demand.userId, demand.kind, demand.projectId ?? demand.groupId ?? ""]);
}

/** `user.<u>.work.{project.<id> | group.<gid>.<priority> | farm.<priority>}`; undefined for anything else. */
function parseWorkSubject(subject: string, messages: number): WorkDemand | undefined {
  const tokens = subject.split(".");
  if (tokens[0] !== "user" || tokens[2] !== "work" || messages <= 0) return undefined;
  try {
    const userId = decodeToken(tokens[1]!);
    if (tokens[3] === "project" && tokens.length === 5) return { kind: "project", userId, projectId: decodeToken(tokens[4]!), messages };
    if (tokens[3] === "group" && tokens.length === 6) return { kind: "group", userId, groupId: decodeToken(tokens[4]!), messages };
    if (tokens[3] === "farm" && tokens.length === 5) return { kind: "farm", userId, messages };
  } catch {
    // not a subject the fabric wrote
  }
  return undefined;
}

/**
 * The capabilities the newest farm task of a group (or of the farm pool) asks for: starting
 * a peer that lacks them would only hand the task back. Empty when none are asked for.
 */
export async function capabilitiesWanted(jsm: JetStreamManager, demand: WorkDemand): Promise<string[]> {
  if (demand.kind === "project") return [];
  const wanted = new Set<string>();
  for (const priority of FARM_PRIORITIES) {
    const subject =
      demand.kind === "group" ? subjectForGroupWork(demand.userId, demand.groupId, priority) : subjectForUserFarmWork(demand.userId, priority);
    const message = await jsm.streams.getMessage(StreamName.Work, { last_by_subj: subject }).catch(() => null);
    if (!message) continue;
    const envelope = EnvelopeSchema.safeParse(parseJsonSafely(message));
    const task = envelope.success ? FarmTaskSchema.safeParse(envelope.data.payload) : undefined;
    for (const capability of task?.success ? task.data.capabilities : []) wanted.add(capability);
  }
  return [...wanted];
}
