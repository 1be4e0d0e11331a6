import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { queryRows } from '../database/sql.js';
import { QUEUE_POLICIES } from '../jobs/job-contract.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import { Sweeper } from '../jobs/sweeper.decorator.js';
import { EMAIL_TRANSPORT, EMAIL_TIMING, type EmailTiming } from './notifications.tokens.js';
import { EmailSendError, type EmailTransport } from './email-transport.js';
import { SuppressionsService } from './suppressions.service.js';
import { templates, type RenderedEmail, type TemplateName } from './templates.js';

export { maskEmail } from './email-transport.js';

export type EmailDocumentType = 'invoice' | 'estimate' | 'credit_note';

export interface OutgoingEmail {
  businessId: string | null;
  to: string;
  template: TemplateName;
  content: RenderedEmail;
  /** The document the email is about: delivery events and failures show on it. */
  document?: { type: EmailDocumentType; id: string };
}

/** An admin of a business, as alert emails address them. */
export interface BusinessAdmin {
  email: string;
  name: string;
  businessName: string;
}

/** Attempts per row, the same as the email queue's policy (3 retries after the first). */
export const MAX_EMAIL_ATTEMPTS = Number(QUEUE_POLICIES.email.defaultJobOptions.attempts ?? 4);
/** A row left `queued` this long after it was due (crash, queue down) is queued again by the sweeper. */
export const DEFAULT_SWEEP_GRACE_MS = 2 * 60_000;
/**
 * A row still `sending` after this long was abandoned mid-send (the worker died): longer than
 * the Postmark request timeout (30 s) plus BullMQ's lock (30 s), so no live attempt is still in
 * flight, and long enough for Postmark's message search to show what it accepted.
 */
export const DEFAULT_STALE_SENDING_MS = 5 * 60_000;
const SWEEP_BATCH = 500;
const ADDRESS = /^[^\s@,;<>"]+@[^\s@,;<>"]+\.[^\s@,;<>"]+$/;
const PENDING_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

interface EmailRow {
  id: string;
  business_id: string | null;
  to_address: string;
  template: string;
  subject: string;
  text_body: string;
  html_body: string;
  status: string;
  attempts: number;
  lookup_before_send: boolean;
  document_type: EmailDocumentType | null;
  document_id: string | null;
}

const ROW = 'id, business_id, to_address, template, subject, text_body, html_body, status, attempts, lookup_before_send, document_type, document_id';

/**
 * The durable email outbox. A row is written in the same transaction as the change that causes
 * it; the send job is queued after commit with the row id as job id, and a sweeper queues rows
 * left unqueued. Each row is sent at most once:
 *
 *   queued ──claim──► sending ──Postmark accepted──► sent (MessageID)
 *                        │  ├─ refused for good (422 inactive / invalid) ─► failed (+ suppression, admins alerted)
 *                        │  └─ not taken (5xx, 429) or no answer ────────► queued again (retry with backoff; after no answer
 *                        │                                                  the retry first searches Postmark by metadata)
 *                        └─ worker died: the sweeper finds it stale and searches Postmark by the row's metadata: found ► sent,
 *                                                                                            not found ► queued again
 *
 * The claim is a conditional UPDATE (`queued` → `sending`), so two jobs for one row (a retry and
 * a sweep, two workers) cannot both send it.
 */
@Injectable()
export class EmailOutbox {
  private readonly graceMs: number;
  private readonly staleSendingMs: number;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobsService,
    private readonly suppressions: SuppressionsService,
    @Inject(EMAIL_TRANSPORT) private readonly transport: EmailTransport,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(EMAIL_TIMING) timing?: EmailTiming,
  ) {
    this.graceMs = timing?.sweepGraceMs ?? DEFAULT_SWEEP_GRACE_MS;
    this.staleSendingMs = timing?.staleSendingMs ?? DEFAULT_STALE_SENDING_MS;
  }

  get transportKind(): EmailTransport['kind'] {
    return this.transport.kind;
  }

  async enqueue(manager: EntityManager, email: OutgoingEmail): Promise<string> {
    const [row]: Array<{ id: string }> = await manager.query(
      `INSERT INTO emails (business_id, to_address, template, subject, text_body, html_body, document_type, document_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [email.businessId, email.to, email.template, email.content.subject, email.content.text, email.content.html, email.document?.type ?? null, email.document?.id ?? null],
    );
    return row.id;
  }

  /** One email per admin of the business (by address), built by `email` and queued in `tx`. Returns the row ids. */
  async enqueueForAdmins(tx: EntityManager, businessId: string, email: (admin: BusinessAdmin) => OutgoingEmail): Promise<string[]> {
    const admins: Array<{ email: string; name: string; business_name: string }> = await tx.query(
      `SELECT u.email, u.name, b.name AS business_name FROM memberships m JOIN users u ON u.id = m.user_id JOIN businesses b ON b.id = m.business_id
        WHERE m.business_id = $1 AND m.role = 'admin' ORDER BY u.email`,
      [businessId],
    );
    const ids: string[] = [];
    for (const admin of admins) ids.push(await this.enqueue(tx, email({ email: admin.email, name: admin.name, businessName: admin.business_name })));
    return ids;
  }

  /**
   * Call after the transaction that wrote the rows has committed. Never throws and never waits
   * long for the queue backend: the rows are durable and the sweeper queues what this could not.
   */
  async dispatch(emailIds: string[]): Promise<void> {
    await Promise.all(emailIds.map((emailId) => this.jobs.tryDispatch('email.send', { emailId }, { jobId: `email.${emailId}` })));
  }

  @JobHandler('email.send', { onFinalFailure: 'recordFinalFailure' })
  async send(payload: { emailId: string }): Promise<void> {
    // The claim: only the job that moves the row from queued to sending may send it.
    const [email] = await queryRows<EmailRow>(
      this.dataSource,
      `UPDATE emails SET status = 'sending', sending_at = clock_timestamp(), attempts = attempts + 1 WHERE id = $1 AND status = 'queued' RETURNING ${ROW}`,
      [payload.emailId],
    );
    if (!email) {
      // Sent, finished, or being sent by another job. A send that started longer ago than any
      // live attempt can take was abandoned (its worker died): resolve it here, by the search.
      const [stuck]: Array<{ sending_at: string }> = await this.dataSource.query(
        `SELECT sending_at::text AS sending_at FROM emails WHERE id = $1 AND status = 'sending' AND sending_at < now() - $2 * interval '1 millisecond'`,
        [payload.emailId, this.staleSendingMs],
      );
      if (stuck) await this.resolveSending({ emailId: payload.emailId, sendingAt: stuck.sending_at });
      return;
    }

    const blocked = await this.blocked(email);
    if (blocked?.status === 'failed') {
      await this.fail(email, new EmailSendError('permanent', blocked.code, blocked.reason));
      return;
    }
    if (blocked) {
      await this.finish(email.id, blocked.status, { errorCode: blocked.code, error: blocked.reason });
      this.logger.info({ emailId: email.id, template: email.template, status: blocked.status, code: blocked.code }, 'email not sent');
      return;
    }

    let outcome: { messageId: string | null; found: boolean };
    try {
      const found = email.lookup_before_send ? await this.transport.find(email.id, email.to_address) : undefined; // the last attempt got no answer
      outcome = found
        ? { messageId: found.messageId, found: true }
        : {
            found: false,
            ...(await this.transport.send({ id: email.id, from: this.config.emailFrom, to: email.to_address, subject: email.subject, text: email.text_body, html: email.html_body, tag: email.template })),
          };
    } catch (error) {
      const failure = error instanceof EmailSendError ? error : new EmailSendError('transient', 'internal_error', `Sending failed: ${(error as Error).message}`);
      if (failure.kind === 'permanent' || email.attempts >= MAX_EMAIL_ATTEMPTS) {
        await this.fail(email, failure);
        throw new UnrecoverableError(`email ${email.id} failed for good: ${failure.code}`);
      }
      await queryRows(
        this.dataSource,
        `UPDATE emails SET status = 'queued', last_error = $2, error_code = $3, lookup_before_send = lookup_before_send OR $4,
                next_attempt_at = clock_timestamp() + $5 * interval '1 millisecond'
          WHERE id = $1 AND status = 'sending'`,
        [email.id, failure.message, failure.code, failure.kind === 'ambiguous', this.jobs.backoffDelayMs('email', email.attempts)],
      );
      throw new Error(`email ${email.id} not sent (${failure.code}); will retry`, { cause: error });
    }
    // Outside the try: if recording fails now, the row stays `sending` and the stale-send
    // resolution finds the message at Postmark; it is never queued again for a second send.
    await this.finish(email.id, outcome.messageId === null ? 'captured' : 'sent', { messageId: outcome.messageId });
    if (outcome.found) this.logger.info({ emailId: email.id, template: email.template }, 'email had been accepted by the earlier attempt; not sent again');
    else if (outcome.messageId !== null) this.logger.info({ emailId: email.id, template: email.template, attempt: email.attempts }, 'email sent');
  }

  /**
   * The job failed for good for a reason the handler did not record: an unexpected error before
   * its claim (the database away for longer than the retries). A row still `queued` was not
   * tried, so it is left to the sweeper, which queues it again under a new job id; a row
   * `sending` is left to the stale-send resolution, which knows whether Postmark has it.
   */
  async recordFinalFailure(payload: { emailId: string }, error: Error): Promise<void> {
    const [email] = (await this.dataSource.query(`SELECT ${ROW} FROM emails WHERE id = $1 AND status IN ('queued', 'sending')`, [payload.emailId])) as EmailRow[];
    if (!email) return;
    if (email.status === 'queued' && email.attempts >= MAX_EMAIL_ATTEMPTS) {
      await this.fail(email, new EmailSendError('transient', 'job_failed', `The send job failed: ${error.message}`.slice(0, 500)), 'queued');
      return;
    }
    this.logger.warn({ emailId: email.id, status: email.status }, 'email send job failed for good before finishing; the sweeper takes the row over');
  }

  /**
   * Resolves a row the sweeper found stuck in `sending` since `sendingAt` (its worker died
   * mid-send). Postmark is asked whether it has a message with the row's metadata: if so the row
   * is sent with that MessageID; if not, it is queued again and sent normally.
   */
  @JobHandler('email.resolve-sending')
  async resolveSending(payload: { emailId: string; sendingAt: string }): Promise<void> {
    const [email] = (await this.dataSource.query(`SELECT ${ROW} FROM emails WHERE id = $1 AND status = 'sending' AND sending_at = $2::timestamptz`, [payload.emailId, payload.sendingAt])) as EmailRow[];
    if (!email) return; // it moved on meanwhile
    const found = await this.transport.find(email.id, email.to_address);
    if (found) {
      await queryRows(
        this.dataSource,
        `UPDATE emails SET status = 'sent', provider_message_id = $3, sent_at = coalesce(sent_at, now()), last_error = NULL, error_code = NULL, lookup_before_send = false
          WHERE id = $1 AND status = 'sending' AND sending_at = $2::timestamptz`,
        [email.id, payload.sendingAt, found.messageId],
      );
      this.logger.warn({ emailId: email.id, template: email.template }, 'interrupted send resolved: Postmark had accepted it; not sent again');
      return;
    }
    if (this.transport.kind === 'postmark' && email.attempts >= MAX_EMAIL_ATTEMPTS) {
      await this.fail(email, new EmailSendError('transient', 'interrupted', 'Every attempt was interrupted before Postmark accepted the message.'), 'sending', payload.sendingAt);
      return;
    }
    const requeued = await queryRows<{ id: string }>(
      this.dataSource,
      `UPDATE emails SET status = 'queued', last_error = 'The send was interrupted and Postmark does not have the message; sending it again.', error_code = 'interrupted',
              lookup_before_send = false, next_attempt_at = now()
        WHERE id = $1 AND status = 'sending' AND sending_at = $2::timestamptz RETURNING id`,
      [email.id, payload.sendingAt],
    );
    if (requeued.length === 0) return;
    this.logger.warn({ emailId: email.id, template: email.template }, 'interrupted send resolved: Postmark does not have it; queued again');
    await this.jobs.tryDispatch('email.send', { emailId: email.id }, { jobId: `email.${email.id}.resend.${Date.parse(payload.sendingAt)}` });
  }

  /**
   * Once a minute (see JobsSweeps): rows left `queued` past their time are queued again (their
   * job was never added, or was lost with a Redis that restarted empty), and rows stuck in
   * `sending` get a resolution job. Returns the number of jobs queued.
   */
  @Sweeper('email-outbox')
  async sweep(options: { graceMs?: number; staleSendingMs?: number } = {}): Promise<number> {
    const graceMs = options.graceMs ?? this.graceMs;
    const staleMs = options.staleSendingMs ?? this.staleSendingMs;
    const queued: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM emails WHERE status = 'queued' AND coalesce(next_attempt_at, created_at) < now() - $1 * interval '1 millisecond' ORDER BY created_at LIMIT ${SWEEP_BATCH}`,
      [graceMs],
    );
    const sends: Array<{ payload: { emailId: string }; jobId: string }> = [];
    for (const { id } of queued) {
      const state = await this.jobs.jobState('email.send', `email.${id}`);
      if (PENDING_JOB_STATES.has(state)) continue; // its job is still coming
      // A job that finished while the row is still queued (it failed before its claim) keeps the id taken: use a new one.
      sends.push({ payload: { emailId: id }, jobId: state === 'unknown' ? `email.${id}` : `email.${id}.sweep.${Date.now()}` });
    }
    await this.jobs.dispatchMany('email.send', sends);

    const stale: Array<{ id: string; sending_at: string; at_ms: string }> = await this.dataSource.query(
      `SELECT id, sending_at::text AS sending_at, (extract(epoch FROM sending_at) * 1000)::bigint::text AS at_ms FROM emails
        WHERE status = 'sending' AND sending_at < now() - $1 * interval '1 millisecond' ORDER BY sending_at LIMIT ${SWEEP_BATCH}`,
      [staleMs],
    );
    const resolutions: Array<{ payload: { emailId: string; sendingAt: string }; jobId: string }> = [];
    for (const row of stale) {
      const jobId = `email-resolve.${row.id}.${row.at_ms}`;
      const state = await this.jobs.jobState('email.resolve-sending', jobId);
      if (PENDING_JOB_STATES.has(state)) continue;
      // A resolution that failed for good (Postmark's search down for a while) is tried again with a new id.
      resolutions.push({ payload: { emailId: row.id, sendingAt: row.sending_at }, jobId: state === 'unknown' ? jobId : `${jobId}.sweep.${Date.now()}` });
    }
    await this.jobs.dispatchMany('email.resolve-sending', resolutions);
    if (sends.length + resolutions.length > 0) this.logger.warn({ requeued: sends.length, staleSending: resolutions.length }, 'email sweeper queued work');
    return sends.length + resolutions.length;
  }

  /** Why this row must not be sent now, if it must not. */
  private async blocked(email: EmailRow): Promise<{ status: 'failed' | 'suppressed' | 'cancelled'; code: string; reason: string } | undefined> {
    if (!ADDRESS.test(email.to_address)) return { status: 'failed', code: 'invalid_address', reason: 'The recipient is not one email address.' };
    if (email.business_id) {
      const suppression = await this.suppressions.active(this.dataSource, email.business_id, email.to_address);
      if (suppression) return { status: 'suppressed', code: `suppressed_${suppression.reason}`, reason: `The address is suppressed for this business (${suppression.reason.replace('_', ' ')}) until a member clears it.` };
    }
    if (email.template === 'reminder' && email.document_type === 'invoice' && email.document_id) {
      const [invoice]: Array<{ status: string }> = await this.dataSource.query('SELECT status FROM invoices WHERE id = $1', [email.document_id]);
      if (!invoice || !['open', 'partially_paid'].includes(invoice.status)) return { status: 'cancelled', code: 'invoice_settled', reason: `The invoice is ${invoice?.status ?? 'gone'}: no reminder.` };
    }
    return undefined;
  }

  private async finish(id: string, status: 'sent' | 'captured' | 'failed' | 'suppressed' | 'cancelled', outcome: { messageId?: string | null; errorCode?: string; error?: string }): Promise<void> {
    await queryRows(
      this.dataSource,
      `UPDATE emails SET status = $2, provider_message_id = coalesce($3, provider_message_id), sent_at = CASE WHEN $2 IN ('sent', 'captured') THEN now() ELSE sent_at END,
              failed_at = CASE WHEN $2 = 'failed' THEN now() ELSE failed_at END, error_code = $4, last_error = $5, lookup_before_send = false
        WHERE id = $1 AND status = 'sending'`,
      [id, status, outcome.messageId ?? null, outcome.errorCode ?? null, outcome.error ?? null],
    );
  }

  /**
   * Failed for good: the row says why (visible on the document and in GET /v1/emails), an
   * inactive recipient is suppressed for the business, and the business's admins get an alert,
   * all in one transaction.
   */
  private async fail(email: EmailRow, failure: EmailSendError, from: 'sending' | 'queued' = 'sending', sendingAt?: string): Promise<void> {
    const alertIds = await this.dataSource.transaction(async (tx) => {
      const updated = await queryRows<{ id: string }>(
        tx,
        `UPDATE emails SET status = 'failed', failed_at = now(), error_code = $3, last_error = $4, lookup_before_send = false
          WHERE id = $1 AND status = $2 ${sendingAt ? 'AND sending_at = $5::timestamptz' : ''} RETURNING id`,
        sendingAt ? [email.id, from, failure.code, failure.message, sendingAt] : [email.id, from, failure.code, failure.message],
      );
      if (updated.length === 0) return [];
      if (failure.code === 'inactive_recipient' && email.business_id) {
        await this.suppressions.suppress(tx, { businessId: email.business_id, address: email.to_address, reason: 'inactive_recipient', emailId: email.id, detail: failure.message });
      }
      return this.alertAdmins(tx, email, failure);
    });
    this.logger.error({ emailId: email.id, businessId: email.business_id, template: email.template, code: failure.code, attempts: email.attempts }, 'email failed for good');
    await this.dispatch(alertIds);
  }

  /** One alert per admin of the business; never for an alert itself (no loops) or a business-less email. */
  private async alertAdmins(tx: EntityManager, email: EmailRow, failure: EmailSendError): Promise<string[]> {
    if (!email.business_id || email.template === 'deliveryFailed') return [];
    const businessId = email.business_id;
    return this.enqueueForAdmins(tx, businessId, (admin) => ({
      businessId,
      to: admin.email,
      template: 'deliveryFailed',
      content: templates.deliveryFailed({ name: admin.name, businessName: admin.businessName, recipient: email.to_address, subject: email.subject, reason: failure.message }),
    }));
  }
}
