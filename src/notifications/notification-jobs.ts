import type { QueueName } from '../jobs/job-contract.js';

/**
 * The notifications module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 */
export type NotificationJobPayloads = Record<never, never>;

export const NOTIFICATION_JOB_QUEUES: { readonly [N in keyof NotificationJobPayloads]: QueueName } = {};
