/**
 * Per-tenant limits on shared resources (DESIGN.md section 9). Exceeding one answers
 * `quota_exceeded` naming the limit; nothing already stored is lost.
 */
export type TenantQuotas = {
  /** Largest single file a peer may upload (a frame, a screenshot, a scene). Bytes */
  maxUploadBytes: number;
  /** What a tenant may store in artifacts (frames, screenshots, large results). Bytes */
  maxArtifactBytes: number;
  /** What a tenant may store in .blend files and project scenes. Bytes */
  maxBlendBytes: number;
};

export const DEFAULT_TENANT_QUOTAS: TenantQuotas = {
  maxUploadBytes: 2 * 1024 ** 3,
  maxArtifactBytes: 50 * 1024 ** 3,
  maxBlendBytes: 20 * 1024 ** 3,
};
