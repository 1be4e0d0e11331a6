import type { QueueName } from '../jobs/job-contract.js';

/**
 * The webhooks module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 */
export type WebhookJobPayloads = Record<never, never>;

export const WEBHOOK_JOB_QUEUES: { readonly [N in keyof WebhookJobPayloads]: QueueName } = {};
