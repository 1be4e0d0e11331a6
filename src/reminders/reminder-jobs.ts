import type { QueueName } from '../jobs/job-contract.js';

/**
 * The reminders module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 */
export type ReminderJobPayloads = Record<never, never>;

export const REMINDER_JOB_QUEUES: { readonly [N in keyof ReminderJobPayloads]: QueueName } = {};
