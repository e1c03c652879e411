/**
 * The package's public API: the job engine. Its trusted face starts jobs (JobEngine), keeps
 * their records (JobStore) and ends the abandoned ones (JobReaper); its peer face is the peer
 * API, served here and used by the bridges.
 */
export { JobEngine, type CommandRequest, type FarmTasks, type JobEngineLimits, type JobEngineStores, type JobTicket, type QueuedJob, type RequestIdConflict } from "./jobs/job-engine.js";
export { JobExistsError, JobStore, whyProjectWaited, type HeldJob, type JobOutcome } from "./jobs/job-store.js";
export { JobReaper } from "./jobs/job-reaper.js";
export { RequestLedger } from "./jobs/request-ledger.js";
export { publishJobEvent, watchJob, type JobWatch } from "./jobs/job-events.js";
export { readFarmProgress, type FarmProgress } from "./jobs/farm-progress.js";
export { farmArtifacts, jobArtifacts } from "./jobs/job-artifacts.js";
export { blocklistedPeers } from "./jobs/farm-rules.js";
export { walkLane, type LaneWalk, type LiveWork } from "./jobs/live-work.js";
export { isRefusal, type TargetRefusal } from "./jobs/pick-target.js";
export { PeerApiServer, type PeerApiLogger } from "./peer-api/server.js";
export type { PeerApiStores } from "./peer-api/context.js";
export { PeerApiError } from "./peer-api/errors.js";
export { DEFAULT_TENANT_QUOTAS, type TenantQuotas } from "./quotas.js";
export { PeerApiClient } from "./peer-side/peer-api-client.js";
export { PeerWork, type PeerWorkSubscription, type WorkDelivery } from "./peer-side/peer-work.js";
export { PeerJobs, type ClaimRefusal, type WorkSettlement } from "./peer-side/peer-jobs.js";
export { PeerFiles, type ArtifactWriter, type BlendFiles } from "./peer-side/peer-files.js";
export { ProjectLease, type ProjectLeaseRecord } from "./peer-side/project-lease.js";
export { controlFarm, type FarmControlAnswer, type FarmControlRequest } from "./jobs/farm-control.js";
export { FarmTally, type FarmTallySummary } from "./jobs/farm-tally.js";
export { readFarmSpec, type FarmSpec } from "./jobs/farm-spec.js";
export { PreviewVideos, PREVIEW_VIDEO_FILE } from "./jobs/preview-video.js";
