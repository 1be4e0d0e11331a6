import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { queryRows } from '../database/sql.js';
import { EmailSendError, type EmailTransport } from './email-transport.js';
import { EMAIL_TRANSPORT } from './notifications.tokens.js';

type Runner = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

export type SuppressionReason = 'hard_bounce' | 'spam_complaint' | 'inactive_recipient';

export interface SuppressionView {
  id: string;
  address: string;
  reason: SuppressionReason;
  detail: string | null;
  emailId: string | null;
  createdAt: string;
}

interface SuppressionRow {
  id: string;
  address: string;
  reason: SuppressionReason;
  detail: string | null;
  email_id: string | null;
  created_at: Date;
  cursor_at: string;
}

const CURSOR_SORT = 'created_desc';
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Suppression keys are the canonical address: NFKC, trimmed, lower case. */
export function suppressionAddress(address: string): string {
  return address.normalize('NFKC').trim().toLowerCase();
}

const view = (row: SuppressionRow): SuppressionView => ({
  id: row.id,
  address: row.address,
  reason: row.reason,
  detail: row.detail,
  emailId: row.email_id,
  createdAt: row.created_at.toISOString(),
});

/**
 * Addresses a business may not send to: a hard bounce or a spam complaint (reported by the
 * Postmark webhook) or Postmark refusing the recipient as inactive. Per business, until a
 * member clears it. The outbox checks it before every send, the reminder scheduler before
 * choosing an invoice.
 */
@Injectable()
export class SuppressionsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    @Inject(EMAIL_TRANSPORT) private readonly transport: EmailTransport,
  ) {}

  async active(runner: Runner, businessId: string, address: string): Promise<SuppressionView | undefined> {
    const rows: SuppressionRow[] = await runner.query(
      `SELECT id, address, reason, detail, email_id, created_at, '' AS cursor_at FROM email_suppressions WHERE business_id = $1 AND address = $2 AND cleared_at IS NULL`,
      [businessId, suppressionAddress(address)],
    );
    return rows[0] ? view(rows[0]) : undefined;
  }

  /** Idempotent: an address already suppressed keeps its first reason. Returns true when this call suppressed it. */
  async suppress(tx: EntityManager, input: { businessId: string; address: string; reason: SuppressionReason; emailId: string | null; detail: string | null }): Promise<boolean> {
    const rows: unknown[] = await tx.query(
      `INSERT INTO email_suppressions (business_id, address, reason, email_id, detail) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (business_id, address) WHERE cleared_at IS NULL DO NOTHING RETURNING id`,
      [input.businessId, suppressionAddress(input.address), input.reason, input.emailId, input.detail?.slice(0, 500) ?? null],
    );
    if (rows.length > 0) {
      await this.audit.record(
        { businessId: input.businessId, actor: { type: 'provider', id: 'postmark' }, action: 'email.address_suppressed', entity: input.emailId ? { type: 'email', id: input.emailId } : undefined, detail: { reason: input.reason } },
        tx,
      );
    }
    return rows.length > 0;
  }

  async list(businessId: string, query: { limit?: number; cursor?: string }): Promise<Page<SuppressionView>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const params: unknown[] = [businessId];
    let after = '';
    if (query.cursor) {
      const [at, id] = decodeCursor(query.cursor, CURSOR_SORT, 2);
      if (!CURSOR_TIME.test(at) || !UUID_SHAPE.test(id)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not valid' }]);
      params.push(at, id);
      after = 'AND (created_at, id) < ($2::timestamptz, $3::uuid)';
    }
    const rows: SuppressionRow[] = await this.dataSource.query(
      `SELECT id, address, reason, detail, email_id, created_at, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
         FROM email_suppressions WHERE business_id = $1 AND cleared_at IS NULL ${after}
        ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`,
      params,
    );
    return toPage(rows, limit, CURSOR_SORT, (row) => [row.cursor_at, row.id], view);
  }

  /** A member clears a suppression: the address may be emailed again. Another business's id is a 404. */
  /**
   * Clears a suppression. Postmark keeps its own list of inactive addresses for the whole
   * server, so the address is reactivated there first: when Postmark keeps it (a spam complaint
   * cannot be lifted through its API) the next email would only fail again, so nothing is
   * cleared (409); when Postmark cannot be reached, nothing is cleared either (503, try again).
   */
  async clear(principal: Principal, id: string, meta: RequestMeta): Promise<void> {
    const [current]: Array<{ address: string }> = await this.dataSource.query(
      'SELECT address FROM email_suppressions WHERE business_id = $1 AND id = $2 AND cleared_at IS NULL',
      [principal.businessId, id],
    );
    if (!current) throw AppError.notFound('suppression_not_found', 'No such active suppression.');
    let provider: 'reactivated' | 'refused' | 'not_applicable';
    try {
      provider = await this.transport.reactivate(current.address);
    } catch (error) {
      if (!(error instanceof EmailSendError)) throw error;
      throw new AppError(503, 'provider_unavailable', 'Postmark could not be reached to reactivate the address; nothing was cleared. Try again shortly.');
    }
    if (provider === 'refused') {
      throw AppError.conflict('suppressed_at_provider', 'Postmark keeps this address suppressed (a spam complaint cannot be lifted through its API), so emails to it would still fail; the suppression stays.');
    }
    await this.dataSource.transaction(async (tx) => {
      const cleared = await queryRows<{ id: string; reason: string }>(
        tx,
        'UPDATE email_suppressions SET cleared_at = now(), cleared_by = $3 WHERE business_id = $1 AND id = $2 AND cleared_at IS NULL RETURNING id, reason',
        [principal.businessId, id, principal.userId],
      );
      if (cleared.length === 0) throw AppError.notFound('suppression_not_found', 'No such active suppression.');
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'email.suppression_cleared', entity: { type: 'email_suppression', id }, detail: { reason: cleared[0].reason, provider }, ...meta },
        tx,
      );
    });
  }
}
