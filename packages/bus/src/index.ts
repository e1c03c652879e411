/** The package's public API: what the fabric's other packages, services and tests use. */
export { parseJsonSafely } from "./safe-json.js";
export { FinalAnswerError, retryJetStream, updateWithRetry } from "./kv-update.js";
export { listKvKeys } from "./kv-keys.js";
export { KvMirror, type MirrorDecoder, type MirrorEntry } from "./kv-mirror.js";
export { BusError, BusErrorCode, isStoreFull } from "./errors.js";
export { connectToFabric } from "./connect.js";
export { JETSTREAM_API_TIMEOUT_MS, openFabricBuckets } from "./buckets.js";
export { heartbeatClient, registerClient, unregisterClient } from "./client-records.js";
export { ClientRegistry } from "./registry.js";
export { SessionStore, type SessionBegun, type SessionQuotas, type SessionStoreOptions } from "./sessions.js";
export { WorkStream, type PeerLanes } from "./work-stream.js";
export { createEnvelope, publishEnvelope, selectRecipients } from "./router.js";
export { ArtifactExists, ArtifactStore, artifactFileName, artifactRefOf, type ArtifactRef } from "./artifacts.js";
export { BlendHashMismatch, BlendStore, HashingStream, hashFile, type StoredObjectRead } from "./blend-store.js";
export { authenticatorFor, ensureLocalCredentials, type LocalCredentials } from "./nats-credentials.js";
export { OPERATOR_INBOX_PREFIX, operatorPermissions, peerPermissions } from "./nats-permissions.js";
export { createFabricAccounts, mintUserCreds, serverAuthConfig, type FabricNatsAccounts, type MintOptions } from "./nats-accounts.js";
export { capabilitiesWanted, demandKey, readWorkDemand, type WorkDemand } from "./work-demand.js";
