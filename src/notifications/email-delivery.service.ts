import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { queryRows } from '../database/sql.js';
import type { EmailDocumentType } from './email-outbox.service.js';
import { UNPARSABLE_BODY } from './postmark-webhook-body.js';
import { parseDeliveryEvent, type DeliveryEvent } from './postmark-webhook.js';
import { SuppressionsService, type SuppressionView } from './suppressions.service.js';

export type EmailStatus = 'queued' | 'sending' | 'sent' | 'captured' | 'failed' | 'suppressed' | 'cancelled';
/** What the recipient's side last told us, strongest first (a complaint outranks an open). */
export type DeliveryState = 'complained' | 'bounced' | 'clicked' | 'opened' | 'delivered' | null;

export interface EmailView {
  id: string;
  to: string;
  template: string;
  subject: string;
  status: EmailStatus;
  deliveryState: DeliveryState;
  document: { type: EmailDocumentType; id: string } | null;
  attempts: number;
  lastError: string | null;
  errorCode: string | null;
  createdAt: string;
  sentAt: string | null;
  failedAt: string | null;
  deliveredAt: string | null;
  openedAt: string | null;
  clickedAt: string | null;
  bouncedAt: string | null;
  bounceType: string | null;
  complainedAt: string | null;
}

export interface EmailEventView {
  id: number;
  recordType: string;
  occurredAt: string | null;
  receivedAt: string;
  detail: Record<string, unknown>;
}

/** What an invoice (or estimate) view shows about its emails. */
export interface DocumentDelivery {
  /** The newest email about the document, with its state. */
  lastEmail: EmailView | null;
  /** The newest email about it that failed for good or was not sent because the address is suppressed. */
  lastFailure: EmailView | null;
  /** Why the customer's address gets no email from this business, when it is suppressed. */
  suppression: SuppressionView | null;
}

interface EmailListRow {
  id: string;
  to_address: string;
  template: string;
  subject: string;
  status: EmailStatus;
  document_type: EmailDocumentType | null;
  document_id: string | null;
  attempts: number;
  last_error: string | null;
  error_code: string | null;
  created_at: Date;
  sent_at: Date | null;
  failed_at: Date | null;
  delivered_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  bounced_at: Date | null;
  bounce_type: string | null;
  complained_at: Date | null;
  cursor_at: string;
}

const LIST_COLUMNS = `id, to_address, template, subject, status, document_type, document_id, attempts, last_error, error_code, created_at, sent_at, failed_at,
  delivered_at, opened_at, clicked_at, bounced_at, bounce_type, complained_at, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;
const CURSOR_SORT = 'created_desc';
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function deliveryState(row: Pick<EmailListRow, 'complained_at' | 'bounced_at' | 'clicked_at' | 'opened_at' | 'delivered_at'>): DeliveryState {
  if (row.complained_at) return 'complained';
  if (row.bounced_at) return 'bounced';
  if (row.clicked_at) return 'clicked';
  if (row.opened_at) return 'opened';
  if (row.delivered_at) return 'delivered';
  return null;
}

function emailView(row: EmailListRow): EmailView {
  return {
    id: row.id,
    to: row.to_address,
    template: row.template,
    subject: row.subject,
    status: row.status,
    deliveryState: deliveryState(row),
    document: row.document_type && row.document_id ? { type: row.document_type, id: row.document_id } : null,
    attempts: row.attempts,
    lastError: row.last_error,
    errorCode: row.error_code,
    createdAt: row.created_at.toISOString(),
    sentAt: iso(row.sent_at),
    failedAt: iso(row.failed_at),
    deliveredAt: iso(row.delivered_at),
    openedAt: iso(row.opened_at),
    clickedAt: iso(row.clicked_at),
    bouncedAt: iso(row.bounced_at),
    bounceType: row.bounce_type,
    complainedAt: iso(row.complained_at),
  };
}

export interface ListEmailsFilter {
  limit?: number;
  cursor?: string;
  status?: EmailStatus;
  template?: string;
  documentId?: string;
}

/**
 * Delivery tracking: the Postmark webhook's events recorded against the email and its document,
 * suppression after a hard bounce or spam complaint, and the read side (GET /v1/emails, the
 * delivery facts an invoice view shows). Every read is scoped by the caller's business.
 */
@Injectable()
export class EmailDeliveryService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly suppressions: SuppressionsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Records one authenticated webhook body. Never throws for what the body holds: malformed
   * bodies, record types we do not track and unknown messages are stored as `ignored`; the same
   * body delivered twice is stored once. Returns what happened.
   */
  async recordWebhook(body: unknown, rawBody: Buffer | undefined): Promise<'recorded' | 'ignored' | 'duplicate'> {
    const raw = rawBody && rawBody.length > 0 ? rawBody : Buffer.from(safeJson(body), 'utf8');
    const payloadHash = createHash('sha256').update(raw).digest();
    if (body === UNPARSABLE_BODY) return this.ignore(payloadHash, 'unknown', 'malformed', body);
    const parsed = parseDeliveryEvent(body);
    if (!parsed.ok) return this.ignore(payloadHash, parsed.recordType, parsed.reason, body);
    const { event } = parsed;
    const outcome = await this.dataSource.transaction(async (tx) => {
      const email = await this.findEmail(tx, event);
      if (!email) return undefined;
      const inserted: unknown[] = await tx.query(
        `INSERT INTO email_events (email_id, business_id, document_type, document_id, record_type, outcome, provider_message_id, recipient, occurred_at, detail, payload_hash)
         VALUES ($1, $2, $3, $4, $5, 'recorded', $6, $7, $8, $9, $10) ON CONFLICT (payload_hash) DO NOTHING RETURNING id`,
        [email.id, email.business_id, email.document_type, email.document_id, event.recordType, event.messageId, event.recipient, event.occurredAt, JSON.stringify(event.detail), payloadHash],
      );
      if (inserted.length === 0) return 'duplicate' as const;
      await this.apply(tx, email, event);
      return 'recorded' as const;
    });
    if (outcome === undefined) return this.ignore(payloadHash, event.recordType, 'unknown_message', body, event);
    if (outcome === 'recorded') this.logger.info({ emailId: event.emailId, recordType: event.recordType }, 'email delivery event recorded');
    return outcome;
  }

  async list(businessId: string, filter: ListEmailsFilter): Promise<Page<EmailView>> {
    const limit = filter.limit ?? DEFAULT_LIMIT;
    const params: unknown[] = [businessId];
    const where = ['business_id = $1'];
    const bind = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.status) where.push(`status = ${bind(filter.status)}`);
    if (filter.template) where.push(`template = ${bind(filter.template)}`);
    if (filter.documentId) where.push(`document_id = ${bind(filter.documentId)}::uuid`);
    if (filter.cursor) {
      const [at, id] = decodeCursor(filter.cursor, CURSOR_SORT, 2);
      if (!CURSOR_TIME.test(at) || !UUID_SHAPE.test(id)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not valid' }]);
      where.push(`(created_at, id) < (${bind(at)}::timestamptz, ${bind(id)}::uuid)`);
    }
    const rows: EmailListRow[] = await this.dataSource.query(
      `SELECT ${LIST_COLUMNS} FROM emails WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`,
      params,
    );
    return toPage(rows, limit, CURSOR_SORT, (row) => [row.cursor_at, row.id], emailView);
  }

  /** One email of the business with its delivery events (never its body: it may hold a signed link or a token). */
  async get(businessId: string, id: string): Promise<EmailView & { events: EmailEventView[] }> {
    const [row]: EmailListRow[] = await this.dataSource.query(`SELECT ${LIST_COLUMNS} FROM emails WHERE business_id = $1 AND id = $2`, [businessId, id]);
    if (!row) throw AppError.notFound('email_not_found', 'No such email.');
    const events: Array<{ id: string; record_type: string; occurred_at: Date | null; received_at: Date; detail: Record<string, unknown> }> = await this.dataSource.query(
      'SELECT id, record_type, occurred_at, received_at, detail FROM email_events WHERE email_id = $1 AND business_id = $2 ORDER BY id',
      [id, businessId],
    );
    return {
      ...emailView(row),
      events: events.map((event) => ({ id: Number(event.id), recordType: event.record_type, occurredAt: iso(event.occurred_at), receivedAt: event.received_at.toISOString(), detail: event.detail })),
    };
  }

  /**
   * For the invoice (or estimate) view: its newest email and state, its newest failure, and the
   * customer address's suppression. `recipient` is the customer's current address.
   */
  async forDocument(businessId: string, type: EmailDocumentType, documentId: string, recipient: string | null): Promise<DocumentDelivery> {
    const newest = (onlyFailures: boolean): Promise<EmailListRow[]> =>
      this.dataSource.query(
        `SELECT ${LIST_COLUMNS} FROM emails WHERE business_id = $1 AND document_type = $2 AND document_id = $3
            ${onlyFailures ? "AND status IN ('failed', 'suppressed')" : ''} ORDER BY created_at DESC, id DESC LIMIT 1`,
        [businessId, type, documentId],
      );
    const [[last], [failure], suppression] = await Promise.all([
      newest(false),
      newest(true),
      recipient ? this.suppressions.active(this.dataSource, businessId, recipient) : Promise.resolve(undefined),
    ]);
    return { lastEmail: last ? emailView(last) : null, lastFailure: failure ? emailView(failure) : null, suppression: suppression ?? null };
  }

  private async findEmail(tx: EntityManager, event: DeliveryEvent): Promise<{ id: string; business_id: string | null; to_address: string; status: string; document_type: string | null; document_id: string | null; provider_message_id: string | null } | undefined> {
    const columns = 'id, business_id, to_address, status, document_type, document_id, provider_message_id';
    if (event.messageId) {
      const [byMessage] = await tx.query(`SELECT ${columns} FROM emails WHERE provider_message_id = $1 FOR UPDATE`, [event.messageId]);
      if (byMessage) return byMessage;
    }
    if (event.emailId) {
      // Our own metadata: the event can arrive before the send recorded Postmark's MessageID (or
      // after a worker died mid-send). A row that has another MessageID is not this message.
      const [byMetadata] = await tx.query(`SELECT ${columns} FROM emails WHERE id = $1 FOR UPDATE`, [event.emailId]);
      if (byMetadata && (!byMetadata.provider_message_id || byMetadata.provider_message_id === event.messageId)) return byMetadata;
    }
    return undefined;
  }

  private async apply(tx: EntityManager, email: { id: string; business_id: string | null; to_address: string; status: string }, event: DeliveryEvent): Promise<void> {
    const column = { Delivery: 'delivered_at', Open: 'opened_at', Click: 'clicked_at', Bounce: 'bounced_at', SpamComplaint: 'complained_at' }[event.recordType];
    await queryRows(
      tx,
      `UPDATE emails SET ${column} = coalesce(${column}, $2), bounce_type = CASE WHEN $3::text IS NULL THEN bounce_type ELSE $3 END,
              -- An event about the message proves Postmark accepted it: a send interrupted before it recorded that is finished here.
              status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END,
              provider_message_id = coalesce(provider_message_id, $4), sent_at = CASE WHEN status = 'sending' THEN coalesce(sent_at, now()) ELSE sent_at END
        WHERE id = $1`,
      [email.id, event.occurredAt, event.recordType === 'Bounce' || event.recordType === 'SpamComplaint' ? (event.bounceType ?? event.recordType) : null, event.messageId],
    );
    if (event.suppresses && email.business_id) {
      await this.suppressions.suppress(tx, {
        businessId: email.business_id,
        address: email.to_address,
        reason: event.recordType === 'SpamComplaint' || event.bounceType === 'SpamComplaint' ? 'spam_complaint' : 'hard_bounce',
        emailId: email.id,
        detail: event.bounceType ? `Postmark reported ${event.bounceType}` : null,
      });
    }
  }

  private async ignore(payloadHash: Buffer, recordType: string, reason: string, body: unknown, event?: DeliveryEvent): Promise<'ignored' | 'duplicate'> {
    const inserted: unknown[] = await this.dataSource.query(
      `INSERT INTO email_events (record_type, outcome, ignored_reason, provider_message_id, occurred_at, detail, payload_hash)
       VALUES ($1, 'ignored', $2, $3, $4, $5, $6) ON CONFLICT (payload_hash) DO NOTHING RETURNING id`,
      [recordType.slice(0, 64), reason, event?.messageId ?? null, event?.occurredAt ?? null, JSON.stringify({ bodyType: body === UNPARSABLE_BODY ? 'unparsable' : Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body }), payloadHash],
    );
    this.logger.info({ recordType: recordType.slice(0, 64), reason }, 'postmark webhook ignored');
    return inserted.length === 0 ? 'duplicate' : 'ignored';
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
