/** The transport the outbox sends with: Postmark, or the capture transport without a server token. */
export const EMAIL_TRANSPORT = Symbol('EMAIL_TRANSPORT');

/**
 * Optional timing overrides of the outbox. Nothing in the application provides this token, so
 * production uses the defaults of email-outbox.service.ts; an e2e suite may provide it from a
 * @Global test module.
 */
export const EMAIL_TIMING = Symbol('EMAIL_TIMING');

export interface EmailTiming {
  /** How long a `queued` row may wait past its time before the sweeper queues it again. */
  sweepGraceMs?: number;
  /** How long a row may stay `sending` before the sweeper resolves it by searching Postmark. */
  staleSendingMs?: number;
}
