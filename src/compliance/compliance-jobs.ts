import type { QueueName } from '../jobs/job-contract.js';

/**
 * The compliance module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 */
export type ComplianceJobPayloads = Record<never, never>;

export const COMPLIANCE_JOB_QUEUES: { readonly [N in keyof ComplianceJobPayloads]: QueueName } = {};
