import type { QueueName } from '../jobs/job-contract.js';

/**
 * The compliance module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 */
export interface ComplianceJobPayloads {
  /** Purge what is past retention for one business, or (null) the platform's own logs. Idempotent: a rerun finds nothing. */
  'compliance.retention-purge': { businessId: string | null };
  /** Erase the identifying data of a business closed longer ago than its retention period. Idempotent. */
  'compliance.erase-closed-business': { businessId: string };
}

export const COMPLIANCE_JOB_QUEUES: { readonly [N in keyof ComplianceJobPayloads]: QueueName } = {
  'compliance.retention-purge': 'maintenance',
  'compliance.erase-closed-business': 'scheduled',
};
