/** The package's public API: the job engine's peer-facing faces, served and used. */
export { PeerApiServer, type PeerApiLogger } from "./peer-api/server.js";
export type { PeerApiStores } from "./peer-api/context.js";
export { PeerApiError } from "./peer-api/errors.js";
export { DEFAULT_TENANT_QUOTAS, type TenantQuotas } from "./quotas.js";
export { PeerApiClient } from "./peer-side/peer-api-client.js";
export { PeerWork, type PeerWorkSubscription, type WorkDelivery } from "./peer-side/peer-work.js";
export { PeerJobs, type ClaimRefusal, type WorkSettlement } from "./peer-side/peer-jobs.js";
export { PeerFiles, type ArtifactWriter, type BlendFiles } from "./peer-side/peer-files.js";
export { ProjectLease, type ProjectLeaseRecord } from "./peer-side/project-lease.js";
