/**
 * Per-tenant limits on shared resources (DESIGN.md section 9). Exceeding one answers
 * `quota_exceeded` naming the limit; nothing already stored is lost.
 */
export type TenantQuotas = {
  /** Largest single file a peer may upload (a frame, a screenshot, a scene). Bytes */
  maxUploadBytes: number;
};

export const DEFAULT_TENANT_QUOTAS: TenantQuotas = {
  maxUploadBytes: 2 * 1024 ** 3,
};
