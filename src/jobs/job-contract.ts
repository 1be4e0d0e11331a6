import type { JobsOptions } from 'bullmq';

/**
 * The one place that declares queues, jobs, their payloads and their retry policy.
 * Payloads carry ids only; processors reload state from PostgreSQL and are idempotent.
 */
export const QUEUE_NAMES = ['maintenance'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayloads {
  /** Recompute one audit chain and raise an error log if it is broken. */
  'audit.verify-chain': { businessId: string | null };
}
export type JobName = keyof JobPayloads;

export const JOB_QUEUES: { readonly [N in JobName]: QueueName } = {
  'audit.verify-chain': 'maintenance',
};

export interface QueuePolicy {
  /** Jobs run at once per worker process. */
  concurrency: number;
  defaultJobOptions: JobsOptions;
}

/**
 * Retry policy per queue. A job is final-failed only when its attempts are spent; the handler
 * of that queue records the failure where a user can see it (see `JobHandlerOptions.onFinalFailure`).
 */
export const QUEUE_POLICIES: Readonly<Record<QueueName, QueuePolicy>> = {
  maintenance: {
    concurrency: 2,
    defaultJobOptions: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  },
};
