import type { QueueName } from '../jobs/job-contract.js';

/**
 * The webhooks module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 */
export interface WebhookJobPayloads {
  /** Process one stored, verified provider event (the row id of `webhook_events`). */
  'webhooks.process': { eventId: string };
}

export const WEBHOOK_JOB_QUEUES: { readonly [N in keyof WebhookJobPayloads]: QueueName } = {
  'webhooks.process': 'webhooks',
};
