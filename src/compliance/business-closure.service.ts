import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { FieldEncryption } from '../common/crypto/field-encryption.js';
import { customerTaxIdContext } from '../common/crypto/key-rotation.js';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { queryRows } from '../database/sql.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { SecurityEvents } from '../security/security-events.service.js';
import { eraseCustomerData } from './customer-data.js';
import { ERASED_EMAIL, ERASED_TEXT, identifyingValues, scrubText } from './erasure.js';
import { childRows, exportRow } from './export-format.js';
import { ReauthService } from './reauth.service.js';
import { columnsOf, ident, tableExists } from './schema-probe.js';

/** "Export first": closing without a business export from the last 7 days needs an explicit acknowledgement. */
const EXPORT_FRESH_DAYS = 7;
const CLOSED_NAME = 'Closed business';

export interface ClosureResult {
  closedAt: string;
  linkEpoch: number;
  identifyingDataEraseAfter: string;
  sessionsRevoked: number;
  invitationsRevoked: number;
  emailsCancelled: number;
  recurringInvoicesPaused: number;
}

/**
 * Closing a business: a full export is offered first (GET /v1/business/export; closing without
 * a recent one needs `acknowledgeNoExport`), then one transaction stops all sending (queued
 * emails cancelled, recurring invoices paused), severs every signed link (link_epoch bumped, so
 * every outstanding link answers 401), revokes every session (the members' tokens stop at their
 * next request; login and refresh refuse a closed business) and pending invitation, and
 * schedules erasure of identifying data for when the retention period has ended.
 */
@Injectable()
export class BusinessClosureService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly audit: AuditService,
    private readonly security: SecurityEvents,
    private readonly reauth: ReauthService,
  ) {}

  async exportBusiness(principal: Principal, meta: RequestMeta): Promise<Record<string, unknown>> {
    const businessId = principal.businessId;
    const runner = this.dataSource.manager;
    const [business]: Array<Record<string, unknown>> = await runner.query(
      `SELECT id, name, require_mfa, invoice_number_format, estimate_number_format, credit_note_number_format, default_net_days, address,
              payment_instructions, link_epoch, retention_years, fiscal_year_end_month, created_at, closed_at
         FROM businesses WHERE id = $1`,
      [businessId],
    );
    const all = (table: string, order = 'created_at, id'): Promise<Array<Record<string, unknown>>> => runner.query(`SELECT * FROM ${ident(table)} WHERE business_id = $1 ORDER BY ${order}`, [businessId]);
    const members: Array<Record<string, unknown>> = await runner.query(
      `SELECT m.user_id, u.name, u.email, m.role, m.created_at AS joined_at, u.mfa_enabled_at IS NOT NULL AS mfa_enabled
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.business_id = $1 ORDER BY m.created_at, u.email`,
      [businessId],
    );
    const invitations: Array<Record<string, unknown>> = await runner.query(
      'SELECT id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at FROM invitations WHERE business_id = $1 ORDER BY created_at, id',
      [businessId],
    );
    const customers = await all('customers');
    const invoices = await all('invoices');
    const invoiceLines = await all('invoice_lines', 'invoice_id, position');
    const versions = await all('invoice_versions', 'invoice_id, version');
    const creditNotes = await all('credit_notes');
    const estimates = await all('estimates');
    const estimateLines = await all('estimate_lines', 'estimate_id, position');
    const recurring = await all('recurring_invoices');
    const emails: Array<Record<string, unknown>> = await runner.query(
      'SELECT id, template, to_address, subject, status, created_at, sent_at, text_body FROM emails WHERE business_id = $1 ORDER BY created_at, id',
      [businessId],
    );
    const optional = async (table: string, order: string): Promise<Array<Record<string, unknown>> | null> =>
      (await columnsOf(runner, table)).has('business_id') ? runner.query(`SELECT * FROM ${ident(table)} WHERE business_id = $1 ORDER BY ${order}`, [businessId]) : null;
    const payments = await optional('payments', 'created_at, id');
    const refunds = await optional('refunds', 'created_at, id');
    const credits = await optional('customer_credits', 'created_at, id');
    const disputes = await optional('disputes', 'created_at, id');
    const opens = (await tableExists(runner, 'document_opens')) ? await all('document_opens', 'opened_at, id') : null;
    const securityEvents = await all('security_events', 'first_seen_at, id');
    const erasures = await all('customer_erasures', 'erased_at, customer_id');
    const [head]: Array<{ seq: string; hash: Buffer }> = await runner.query('SELECT seq::text AS seq, hash FROM audit_events WHERE business_id = $1 ORDER BY audit_events.seq DESC LIMIT 1', [businessId]);

    const document = {
      format: 'ledgerline-business-export.v1',
      exportedAt: new Date().toISOString(),
      business: exportRow(business),
      members: members.map((row) => exportRow(row)),
      invitations: invitations.map((row) => exportRow(row)),
      customers: customers.map((row) => ({ ...exportRow(row), taxId: this.taxId(row) })),
      customerErasures: erasures.map((row) => exportRow(row)),
      invoices: invoices.map((row) => ({ ...exportRow(row), lines: childRows(invoiceLines, 'invoice_id', row.id), versions: childRows(versions, 'invoice_id', row.id), creditNotes: childRows(creditNotes, 'invoice_id', row.id) })),
      estimates: estimates.map((row) => ({ ...exportRow(row), lines: childRows(estimateLines, 'estimate_id', row.id) })),
      recurringInvoices: recurring.map((row) => exportRow(row)),
      payments: payments?.map((row) => exportRow(row)) ?? null,
      refunds: refunds?.map((row) => exportRow(row)) ?? null,
      customerCredits: credits?.map((row) => exportRow(row)) ?? null,
      disputes: disputes?.map((row) => exportRow(row)) ?? null,
      emails: emails.map((row) => exportRow(row)),
      linkOpens: opens?.map((row) => exportRow(row)) ?? null,
      securityEvents: securityEvents.map((row) => exportRow(row)),
      auditTrail: {
        headSeq: head?.seq ?? '0',
        headHash: head ? head.hash.toString('hex') : null,
        note: 'The audit trail itself, signed for offline verification, is GET /v1/audit-events/export.',
      },
    };
    const raised = await this.dataSource.transaction(async (tx) => {
      await queryRows(tx, 'UPDATE businesses SET last_exported_at = now() WHERE id = $1', [businessId]);
      await this.audit.record({ businessId, actor: { type: 'user', id: principal.userId }, action: 'business.exported', entity: { type: 'business', id: businessId }, detail: { customers: customers.length, invoices: invoices.length }, ...meta }, tx);
      return this.security.raise(tx, { businessId, kind: 'data_exported', subject: 'business', summary: 'A full export of the business was downloaded.', detail: { what: 'business', by: principal.userId } });
    });
    await this.security.alert(raised);
    return document;
  }

  async close(principal: Principal, input: { password: string; code: string; reason?: string; acknowledgeNoExport?: boolean }, meta: RequestMeta): Promise<ClosureResult> {
    const businessId = principal.businessId;
    const [state]: Array<{ exported_recently: boolean; closed: boolean }> = await this.dataSource.query(
      `SELECT coalesce(last_exported_at > now() - interval '${EXPORT_FRESH_DAYS} days', false) AS exported_recently, closed_at IS NOT NULL AS closed FROM businesses WHERE id = $1`,
      [businessId],
    );
    if (!state || state.closed) throw AppError.conflict('business_closed', 'This business is already closed.');
    if (!state.exported_recently && input.acknowledgeNoExport !== true) {
      throw AppError.conflict('export_first', `Download the full export first (GET /v1/business/export), or confirm closing without it with acknowledgeNoExport: true.`);
    }
    await this.reauth.confirm(principal, input, meta, 'business closure');

    const outcome = await this.dataSource.transaction(async (tx) => {
      const [locked]: Array<{ closed: boolean }> = await tx.query('SELECT closed_at IS NOT NULL AS closed FROM businesses WHERE id = $1 FOR UPDATE', [businessId]);
      if (!locked || locked.closed) throw AppError.conflict('business_closed', 'This business is already closed.');
      const [closed]: Array<{ closed_at: Date; link_epoch: number; erase_after: Date }> = await queryRows(tx,
        `UPDATE businesses SET closed_at = now(), closed_by = $2, closure_reason = $3, link_epoch = link_epoch + 1,
                identifying_data_erase_after = ${ERASE_AFTER_SQL}
          WHERE id = $1 RETURNING closed_at, link_epoch, identifying_data_erase_after AS erase_after`,
        [businessId, principal.userId, input.reason ?? null],
      );
      const sessions: unknown[] = await queryRows(tx, `UPDATE sessions SET revoked_at = now(), revoked_reason = 'business_closed' WHERE business_id = $1 AND revoked_at IS NULL RETURNING id`, [businessId]);
      const invitations: unknown[] = await queryRows(tx, 'UPDATE invitations SET revoked_at = now() WHERE business_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id', [businessId]);
      const emails: unknown[] = await queryRows(tx, `UPDATE emails SET status = 'cancelled', last_error = 'business closed' WHERE business_id = $1 AND status = 'queued' RETURNING id`, [businessId]);
      const recurring: unknown[] = await queryRows(tx,
        `UPDATE recurring_invoices SET status = 'paused', version = version + 1, updated_at = now() WHERE business_id = $1 AND status = 'active' RETURNING id`,
        [businessId],
      );
      const result: ClosureResult = {
        closedAt: closed.closed_at.toISOString(),
        linkEpoch: closed.link_epoch,
        identifyingDataEraseAfter: closed.erase_after.toISOString(),
        sessionsRevoked: sessions.length,
        invitationsRevoked: invitations.length,
        emailsCancelled: emails.length,
        recurringInvoicesPaused: recurring.length,
      };
      await this.audit.record(
        { businessId, actor: { type: 'user', id: principal.userId }, action: 'business.closed', entity: { type: 'business', id: businessId }, detail: { ...result, reason: input.reason ?? null }, ...meta },
        tx,
      );
      const raised = await this.security.raise(tx, {
        businessId,
        kind: 'business_closed',
        subject: 'business',
        summary: `The business was closed. Signed links stopped working, every session was revoked, and identifying data will be erased after ${result.identifyingDataEraseAfter.slice(0, 10)}.`,
        detail: { by: principal.userId, eraseAfter: result.identifyingDataEraseAfter },
      });
      return { result, raised };
    });
    await this.security.alert(outcome.raised);
    this.logger.info({ businessId, sessionsRevoked: outcome.result.sessionsRevoked }, 'business closed');
    return outcome.result;
  }

  /** After the retention period of a closed business: pseudonymise every customer and strip what identifies people. */
  @JobHandler('compliance.erase-closed-business')
  async eraseClosedBusiness(payload: { businessId: string }): Promise<{ erased: boolean; customers: number }> {
    return this.dataSource.transaction(async (tx) => {
      const [business]: Array<{ due: boolean }> = await tx.query(
        `SELECT (closed_at IS NOT NULL AND identifying_data_erased_at IS NULL AND identifying_data_erase_after <= now()) AS due FROM businesses WHERE id = $1 FOR UPDATE`,
        [payload.businessId],
      );
      if (!business?.due) return { erased: false, customers: 0 };
      const businessId = payload.businessId;
      const customers: Array<Record<string, unknown> & { id: string; email: string | null; tax_id_encrypted: string | null }> = await tx.query(
        `SELECT c.* FROM customers c WHERE c.business_id = $1
            AND NOT EXISTS (SELECT 1 FROM customer_erasures e WHERE e.business_id = c.business_id AND e.customer_id = c.id)
          ORDER BY c.id FOR UPDATE`,
        [businessId],
      );
      for (const customer of customers) {
        const values = identifyingValues(customer, this.taxId(customer));
        await tx.query(`INSERT INTO customer_erasures (business_id, customer_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [businessId, customer.id, 'The business was closed and its retention period ended.']);
        const summary = await eraseCustomerData(tx, businessId, customer.id, customer.email, values);
        await tx.query('UPDATE customer_erasures SET summary = $3 WHERE business_id = $1 AND customer_id = $2', [businessId, customer.id, JSON.stringify(summary)]);
      }
      await this.stripBusiness(tx, businessId);
      await this.audit.record({ businessId, actor: { type: 'system' }, action: 'business.identifying_data_erased', entity: { type: 'business', id: businessId }, detail: { customers: customers.length } }, tx);
      return { erased: true, customers: customers.length };
    });
  }

  private async stripBusiness(tx: EntityManager, businessId: string): Promise<void> {
    const emails: Array<{ id: string; subject: string }> = await tx.query(`SELECT id, subject FROM emails WHERE business_id = $1 AND to_address <> $2`, [businessId, ERASED_EMAIL]);
    for (const email of emails) {
      await queryRows(tx, 'UPDATE emails SET to_address = $2, subject = $3, text_body = $4, html_body = $4, last_error = NULL WHERE id = $1', [email.id, ERASED_EMAIL, scrubText(email.subject, [], { patterns: true }), ERASED_TEXT]);
    }
    if (await tableExists(tx, 'document_opens')) await queryRows(tx, 'UPDATE document_opens SET ip = NULL, user_agent = NULL WHERE business_id = $1', [businessId]);
    if (await tableExists(tx, 'email_events')) {
      await queryRows(tx, `UPDATE email_events SET recipient = CASE WHEN recipient IS NULL THEN NULL ELSE $2 END, detail = detail - 'description' WHERE business_id = $1`, [businessId, ERASED_EMAIL]);
    }
    if (await tableExists(tx, 'email_suppressions')) {
      await queryRows(tx, `UPDATE email_suppressions SET address = 'erased-' || substr(md5(id::text), 1, 16) || '@erased.invalid', detail = NULL WHERE business_id = $1 AND address NOT LIKE '%@erased.invalid'`, [businessId]);
    }
    await queryRows(tx, 'UPDATE sessions SET ip = NULL, user_agent = NULL WHERE business_id = $1', [businessId]);
    await queryRows(tx, `UPDATE invitations SET email = 'erased-invitee@erased.invalid' WHERE business_id = $1`, [businessId]);
    await queryRows(tx, 'UPDATE estimates SET accepted_ip = NULL, accepted_user_agent = NULL WHERE business_id = $1', [businessId]);
    await queryRows(tx,
      'UPDATE businesses SET name = $2, address = NULL, payment_instructions = NULL, closure_reason = NULL, identifying_data_erased_at = now() WHERE id = $1',
      [businessId, CLOSED_NAME],
    );
  }

  private taxId(customer: Record<string, unknown>): string | null {
    if (typeof customer.id !== 'string') return null;
    return this.encryption.decryptOrNull(customer.tax_id_encrypted as string | null, customerTaxIdContext(customer.id));
  }
}

/**
 * The end of the retention period that starts at the end of the current fiscal year (UTC): e.g.
 * closed in March 2027, fiscal year ending in December, 7 years → after 2034-12-31.
 */
const ERASE_AFTER_SQL = `(
  SELECT (((CASE WHEN this_end >= today THEN this_end
                 ELSE (make_date(extract(year FROM today)::int + 1, m, 1) + interval '1 month' - interval '1 day')::date END)
           + make_interval(years => years))::date + 1)::timestamp AT TIME ZONE 'UTC'
    FROM (SELECT b.retention_years AS years, b.fiscal_year_end_month AS m, (now() AT TIME ZONE 'UTC')::date AS today,
                 (make_date(extract(year FROM (now() AT TIME ZONE 'UTC'))::int, b.fiscal_year_end_month, 1) + interval '1 month' - interval '1 day')::date AS this_end
            FROM businesses b WHERE b.id = $1) AS f)`;
