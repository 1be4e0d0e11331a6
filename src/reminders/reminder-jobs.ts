import type { QueueName } from '../jobs/job-contract.js';

/**
 * The reminders module's jobs: payload types and queues. Merged into the one contract in
 * src/jobs/job-contract.ts (payloads carry ids only; processors reload from PostgreSQL).
 * Scheduled work of the invoices module (recurring generation) is declared here too: it is
 * found by a schedule and queued on the same `scheduled` queue.
 */
export interface ReminderJobPayloads {
  /** Send the reminder of one invoice for one stage (days from the due date), at most once (unique per invoice and stage). */
  'reminder.send': { invoiceId: string; stage: number };
  /** Create the invoice of one occurrence of a recurring template (unique per template and period), and send it when autoSend is on. */
  'recurring.generate': { recurringInvoiceId: string; occurrence: string };
}

export const REMINDER_JOB_QUEUES: { readonly [N in keyof ReminderJobPayloads]: QueueName } = {
  'reminder.send': 'scheduled',
  'recurring.generate': 'scheduled',
};
