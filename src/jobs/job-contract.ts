import type { JobsOptions } from 'bullmq';

/**
 * The one place that declares queues, jobs, their payloads and their retry policy.
 * Payloads carry ids only; processors reload state from PostgreSQL and are idempotent.
 */
export const QUEUE_NAMES = ['maintenance', 'email', 'auth'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayloads {
  /** Recompute one audit chain and raise an error log if it is broken. */
  'audit.verify-chain': { businessId: string | null };
  /** Send (or capture) one row of the email outbox. */
  'email.send': { emailId: string };
  /** Look up the account, create a reset token and queue the email; the HTTP answer never waits for it. */
  'auth.password-reset-requested': { email: string; ip: string | null; userAgent: string | null };
}
export type JobName = keyof JobPayloads;

export const JOB_QUEUES: { readonly [N in JobName]: QueueName } = {
  'audit.verify-chain': 'maintenance',
  'email.send': 'email',
  'auth.password-reset-requested': 'auth',
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
  email: {
    concurrency: 8,
    // 3 retries after the first attempt, exponential: 5 s, 10 s, 20 s.
    defaultJobOptions: {
      attempts: 4,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { age: 24 * 3600, count: 5000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    },
  },
  auth: {
    concurrency: 4,
    // Payloads hold an email address: completed jobs are removed at once.
    defaultJobOptions: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    },
  },
};
