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

const HOUR = 3600;
const DAY = 24 * HOUR;

/** Exponential backoff from `delayMs`; completed jobs kept a day (at most `keepCompleted`), failed ones `keepFailedDays`. */
function policy(concurrency: number, attempts: number, delayMs: number, keepCompleted: number | true, keepFailedDays: number): QueuePolicy {
  return {
    concurrency,
    defaultJobOptions: {
      attempts,
      backoff: { type: 'exponential', delay: delayMs },
      removeOnComplete: keepCompleted === true ? true : { age: DAY, count: keepCompleted },
      removeOnFail: { age: keepFailedDays * DAY },
    },
  };
}

/**
 * Retry policy per queue. A job is final-failed only when its attempts are spent; the handler
 * of that queue records the failure where a user can see it.
 */
export const QUEUE_POLICIES: Readonly<Record<QueueName, QueuePolicy>> = {
  maintenance: policy(2, 3, 5_000, 1000, 7),
  // 3 retries after the first attempt, exponential: 5 s, 10 s, 20 s.
  email: policy(8, 4, 5_000, 5000, 14),
  // Payloads hold an email address: completed jobs are removed at once, failed ones after a day.
  auth: policy(4, 3, 2_000, true, 1),
  // Verified vendor events: processing is idempotent, so retrying for hours is safe (a vendor outage, a lock wait).
  webhooks: policy(8, 10, 2_000, 10_000, 30),
  // Calls to payment providers (refunds, captures): idempotency keys make retries safe.
  payments: policy(4, 6, 5_000, 5000, 30),
  // Work found by cron (reminders, recurring invoices, sweeps, retention): deterministic ids make a rerun a no-op.
  scheduled: policy(4, 4, 10_000, 10_000, 14),
};
