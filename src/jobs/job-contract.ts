import type { JobsOptions } from 'bullmq';
import { COMPLIANCE_JOB_QUEUES, type ComplianceJobPayloads } from '../compliance/compliance-jobs.js';
import { NOTIFICATION_JOB_QUEUES, type NotificationJobPayloads } from '../notifications/notification-jobs.js';
import { PAYMENT_JOB_QUEUES, type PaymentJobPayloads } from '../payments/payment-jobs.js';
import { REMINDER_JOB_QUEUES, type ReminderJobPayloads } from '../reminders/reminder-jobs.js';
import { WEBHOOK_JOB_QUEUES, type WebhookJobPayloads } from '../webhooks/webhook-jobs.js';

/**
 * The one place that declares queues, jobs, their payloads and their retry policy. Each module
 * lists its own jobs in its `*-jobs.ts` file (payload types and queue), merged here, so the
 * boot check still sees every job. Payloads carry ids only; processors reload state from
 * PostgreSQL and are idempotent.
 */
export const QUEUE_NAMES = ['maintenance', 'email', 'auth', 'webhooks', 'payments', 'scheduled'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayloads extends PaymentJobPayloads, WebhookJobPayloads, NotificationJobPayloads, ReminderJobPayloads, ComplianceJobPayloads {
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
  ...PAYMENT_JOB_QUEUES,
  ...WEBHOOK_JOB_QUEUES,
  ...NOTIFICATION_JOB_QUEUES,
  ...REMINDER_JOB_QUEUES,
  ...COMPLIANCE_JOB_QUEUES,
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
  // Verified vendor events: processing is idempotent, so retrying for hours is safe (a vendor outage, a lock wait).
  webhooks: {
    concurrency: 8,
    defaultJobOptions: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 24 * 3600, count: 10000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    },
  },
  // Calls to payment providers (refunds, captures): idempotency keys make retries safe.
  payments: {
    concurrency: 4,
    defaultJobOptions: {
      attempts: 6,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { age: 24 * 3600, count: 5000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    },
  },
  // Work found by cron (reminders, recurring invoices, sweeps, retention): deterministic ids make a rerun a no-op.
  scheduled: {
    concurrency: 4,
    defaultJobOptions: {
      attempts: 4,
      backoff: { type: 'exponential', delay: 10_000 },
      removeOnComplete: { age: 24 * 3600, count: 10000 },
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
