import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { CustomerPiiKeys } from '../audit/customer-pii-keys.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { FieldEncryption } from '../common/crypto/field-encryption.js';
import { customerTaxIdContext } from '../common/crypto/key-rotation.js';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { SecurityEvents } from '../security/security-events.service.js';
import { customerDocuments, customerEmailIds, eraseCustomerData, type ErasureSummary } from './customer-data.js';
import { identifyingValues, scrubText } from './erasure.js';
import { childRows, exportRow } from './export-format.js';
import { ReauthService } from './reauth.service.js';
import { columnsOf, tableExists } from './schema-probe.js';

interface CustomerRow {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  billing_address: Record<string, unknown> | null;
  notes: string | null;
  tax_id_encrypted: string | null;
  [column: string]: unknown;
}

export interface ErasureResult {
  customerId: string;
  erasedAt: string;
  summary: ErasureSummary;
}

const notFound = (): AppError => AppError.notFound('customer_not_found', 'No such customer.');
const alreadyErased = (): AppError => AppError.conflict('customer_already_erased', 'This customer’s data has already been erased.');

/**
 * A customer's data rights: a full export of what is held about them, and erasure. Both are
 * scoped by the caller's business (another business's customer answers 404) and audited; the
 * erasure needs a reason and the admin's password and TOTP code, runs in one transaction over
 * every table that holds the customer's identifying data, and can happen once (409 after).
 */
@Injectable()
export class DataRightsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly audit: AuditService,
    private readonly security: SecurityEvents,
    private readonly reauth: ReauthService,
    private readonly piiKeys: CustomerPiiKeys,
  ) {}

  async exportCustomer(principal: Principal, customerId: string, meta: RequestMeta): Promise<Record<string, unknown>> {
    const businessId = principal.businessId;
    const [customer]: CustomerRow[] = await this.dataSource.query('SELECT * FROM customers WHERE business_id = $1 AND id = $2', [businessId, customerId]);
    if (!customer) throw notFound();
    // Customer reads still in the audit inbox belong in "everything held".
    await this.audit.foldInbox();
    const document = await this.customerDocument(this.dataSource.manager, businessId, customer);
    const raised = await this.dataSource.transaction(async (tx) => {
      await this.audit.record({ businessId, actor: { type: 'user', id: principal.userId }, action: 'customer.exported', entity: { type: 'customer', id: customerId }, ...meta }, tx);
      return this.security.raise(tx, { businessId, kind: 'data_exported', subject: `customer:${customerId}`, summary: 'A customer’s data was exported.', detail: { what: 'customer', customerId, by: principal.userId } });
    });
    await this.security.alert(raised);
    return document;
  }

  /** Everything held about one customer, as one JSON document (also used by the business export). */
  async customerDocument(runner: EntityManager, businessId: string, customer: CustomerRow): Promise<Record<string, unknown>> {
    const customerId = customer.id;
    const documents = await customerDocuments(runner, businessId, customerId);
    const { invoiceIds, estimateIds } = documents;
    const [erasure]: Array<Record<string, unknown>> = await runner.query('SELECT erased_at, erased_by, reason, summary FROM customer_erasures WHERE business_id = $1 AND customer_id = $2', [businessId, customerId]);
    const invoices: Array<Record<string, unknown>> = await runner.query('SELECT * FROM invoices WHERE business_id = $1 AND customer_id = $2 ORDER BY created_at, id', [businessId, customerId]);
    const invoiceLines: Array<Record<string, unknown>> = await runner.query('SELECT * FROM invoice_lines WHERE business_id = $1 AND invoice_id = ANY($2::uuid[]) ORDER BY invoice_id, position', [businessId, invoiceIds]);
    const versions: Array<Record<string, unknown>> = await runner.query('SELECT * FROM invoice_versions WHERE business_id = $1 AND invoice_id = ANY($2::uuid[]) ORDER BY invoice_id, version', [businessId, invoiceIds]);
    const creditNotes: Array<Record<string, unknown>> = await runner.query('SELECT * FROM credit_notes WHERE business_id = $1 AND invoice_id = ANY($2::uuid[]) ORDER BY created_at, id', [businessId, invoiceIds]);
    const estimates: Array<Record<string, unknown>> = await runner.query('SELECT * FROM estimates WHERE business_id = $1 AND customer_id = $2 ORDER BY created_at, id', [businessId, customerId]);
    const estimateLines: Array<Record<string, unknown>> = await runner.query('SELECT * FROM estimate_lines WHERE business_id = $1 AND estimate_id = ANY($2::uuid[]) ORDER BY estimate_id, position', [businessId, estimateIds]);
    const recurring: Array<Record<string, unknown>> = await runner.query('SELECT * FROM recurring_invoices WHERE business_id = $1 AND customer_id = $2 ORDER BY created_at, id', [businessId, customerId]);
    const emailIds = await customerEmailIds(runner, businessId, customerId, customer.email, documents);
    const emails: Array<Record<string, unknown>> = await runner.query(
      'SELECT id, template, to_address, subject, status, created_at, sent_at, text_body FROM emails WHERE id = ANY($1::uuid[]) ORDER BY created_at, id',
      [emailIds],
    );
    const opens: Array<Record<string, unknown>> = (await tableExists(runner, 'document_opens'))
      ? await runner.query(
          `SELECT * FROM document_opens WHERE business_id = $1
             AND ((document_type = 'invoice' AND document_id = ANY($2::uuid[])) OR (document_type = 'estimate' AND document_id = ANY($3::uuid[])))
           ORDER BY opened_at, id`,
          [businessId, invoiceIds, estimateIds],
        )
      : [];
    const payments = await this.rowsByInvoice(runner, 'payments', businessId, invoiceIds);
    const refunds = await this.rowsByInvoice(runner, 'refunds', businessId, invoiceIds);
    const disputes = await this.rowsByInvoice(runner, 'disputes', businessId, invoiceIds);
    const credits: Array<Record<string, unknown>> | null = (await tableExists(runner, 'customer_credits'))
      ? await runner.query('SELECT * FROM customer_credits WHERE business_id = $1 AND customer_id = $2 ORDER BY created_at, id', [businessId, customerId])
      : null;
    const auditRows: Array<Record<string, unknown> & { actor_type: string; actor_id: string | null; ip: string | null; user_agent: string | null }> = await runner.query(
      `SELECT id::text AS id, seq::text AS seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, detail, ip, user_agent FROM audit_events
        WHERE business_id = $1 AND ((entity_type = 'customer' AND entity_id = $2) OR entity_id = ANY($3::text[]))
        ORDER BY audit_events.seq`,
      [businessId, customerId, [...invoiceIds, ...estimateIds]],
    );
    // The customer's own actions carry their IP and browser (opened from the sealed form); a member's do not belong in it.
    const personal = await this.piiKeys.reveal(businessId, auditRows);
    const auditEvents = auditRows.map(({ ip: _ip, user_agent: _userAgent, ...row }, index) =>
      row.actor_type === 'customer' ? { ...row, ip: personal[index].ip, user_agent: personal[index].userAgent } : row);

    return {
      format: 'ledgerline-customer-export.v1',
      exportedAt: new Date().toISOString(),
      customer: { ...exportRow(customer), taxId: this.taxId(customer) },
      erasure: erasure ? exportRow(erasure) : null,
      invoices: invoices.map((invoice) => ({
        ...exportRow(invoice),
        lines: childRows(invoiceLines, 'invoice_id', invoice.id),
        versions: childRows(versions, 'invoice_id', invoice.id),
        creditNotes: childRows(creditNotes, 'invoice_id', invoice.id),
      })),
      estimates: estimates.map((estimate) => ({ ...exportRow(estimate), lines: childRows(estimateLines, 'estimate_id', estimate.id) })),
      recurringInvoices: recurring.map((row) => exportRow(row)),
      payments: payments?.map((row) => exportRow(row)) ?? null,
      refunds: refunds?.map((row) => exportRow(row)) ?? null,
      disputes: disputes?.map((row) => exportRow(row)) ?? null,
      customerCredits: credits?.map((row) => exportRow(row)) ?? null,
      emailsSent: emails.map((row) => exportRow(row)),
      linkOpens: opens.map((row) => exportRow(row)),
      auditEvents: auditEvents.map((row) => exportRow(row)),
    };
  }

  async eraseCustomer(principal: Principal, customerId: string, input: { reason: string; password: string; code: string }, meta: RequestMeta): Promise<ErasureResult> {
    const businessId = principal.businessId;
    // Existence first (a foreign id is 404 whatever the credentials), then "already erased", then re-authentication.
    const [exists]: Array<{ erased: boolean }> = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM customer_erasures e WHERE e.business_id = c.business_id AND e.customer_id = c.id) AS erased
         FROM customers c WHERE c.business_id = $1 AND c.id = $2`,
      [businessId, customerId],
    );
    if (!exists) throw notFound();
    if (exists.erased) throw alreadyErased();
    await this.reauth.confirm(principal, input, meta, 'customer erasure');

    const result = await this.dataSource.transaction(async (tx) => {
      const [customer]: CustomerRow[] = await tx.query('SELECT * FROM customers WHERE business_id = $1 AND id = $2 FOR UPDATE', [businessId, customerId]);
      if (!customer) throw notFound();
      const values = identifyingValues(customer, this.taxId(customer));
      const reason = scrubText(input.reason, values).slice(0, 1000);
      const claimed: Array<{ erased_at: Date }> = await tx.query(
        `INSERT INTO customer_erasures (business_id, customer_id, erased_by, reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (business_id, customer_id) DO NOTHING RETURNING erased_at`,
        [businessId, customerId, principal.userId, reason],
      );
      if (claimed.length === 0) throw alreadyErased();
      const summary = await eraseCustomerData(tx, businessId, customerId, customer.email, values);
      await tx.query('UPDATE customer_erasures SET summary = $3 WHERE business_id = $1 AND customer_id = $2', [businessId, customerId, JSON.stringify(summary)]);
      // The event says that, when, by whom and why (scrubbed), and what was touched: never an erased value.
      await this.audit.record(
        { businessId, actor: { type: 'user', id: principal.userId }, action: 'customer.erased', entity: { type: 'customer', id: customerId }, detail: { reason, ...summary }, ...meta },
        tx,
      );
      const raised = await this.security.raise(tx, { businessId, kind: 'customer_erased', subject: `customer:${customerId}`, summary: 'A customer’s identifying data was erased.', detail: { customerId, by: principal.userId } });
      return { erasedAt: claimed[0].erased_at, summary, raised };
    });
    await this.security.alert(result.raised);
    this.logger.info({ businessId, customerId, tables: result.summary.tablesTouched }, 'customer erased');
    return { customerId, erasedAt: result.erasedAt.toISOString(), summary: result.summary };
  }

  private taxId(customer: CustomerRow): string | null {
    return this.encryption.decryptOrNull(customer.tax_id_encrypted, customerTaxIdContext(customer.id));
  }

  /** Rows of a payments-module table for these invoices, or null while that table does not exist. */
  private async rowsByInvoice(runner: EntityManager, table: 'payments' | 'refunds' | 'disputes', businessId: string, invoiceIds: string[]): Promise<Array<Record<string, unknown>> | null> {
    const columns = await columnsOf(runner, table);
    if (!columns.has('invoice_id') || !columns.has('business_id')) return columns.size === 0 ? null : [];
    return runner.query(`SELECT * FROM ${table} WHERE business_id = $1 AND invoice_id = ANY($2::uuid[]) ORDER BY created_at, id`, [businessId, invoiceIds]);
  }
}
