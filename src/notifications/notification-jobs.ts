import type { QueueName } from '../jobs/job-contract.js';

/**
 * The notifications module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 * (`email.send` itself is declared in the contract.)
 */
export interface NotificationJobPayloads {
  /** A row the sweeper found stuck in `sending` since `sendingAt`: search Postmark by its metadata, then mark it sent or queue it again. */
  'email.resolve-sending': { emailId: string; sendingAt: string };
}

export const NOTIFICATION_JOB_QUEUES: { readonly [N in keyof NotificationJobPayloads]: QueueName } = {
  'email.resolve-sending': 'email',
};
