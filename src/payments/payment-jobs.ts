import type { QueueName } from '../jobs/job-contract.js';

/**
 * The payments module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 */
export interface PaymentJobPayloads {
  /** Execute one approved refund at its provider (idempotency key per refund; retried on transient failures). */
  'payments.execute-refund': { refundId: string };
}

export const PAYMENT_JOB_QUEUES: { readonly [N in keyof PaymentJobPayloads]: QueueName } = {
  'payments.execute-refund': 'payments',
};
