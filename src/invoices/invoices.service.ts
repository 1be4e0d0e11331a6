import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { addDays, isIsoDate, todayUtc } from '../common/dates.js';
import { AppError, type FieldError } from '../common/errors/app-error.js';
import { assertVersion, versionFromIfMatch } from '../common/http/etag.js';
import { formatMoney } from '../common/money/money.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { violates } from '../database/pg-errors.js';
import { emailLink } from '../links/links.service.js';
import { queryRows } from '../database/sql.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';
import { cardNumberErrors, computeDocument, displayQuantity, throwIfErrors, type ComputedDocument, type LineBody } from './document-lines.js';
import { nextDocumentNumber } from './document-numbers.js';
import { refusal, settledStatus, type InvoiceAction } from './invoice-status.js';
import type { InvoiceView } from './invoice-view.js';
import type { CreateInvoiceDto, InvoiceSort, ListInvoicesQuery, UpdateInvoiceDto } from './invoices.dto.js';
import { invoiceView, InvoicesRepository, type InvoiceRow } from './invoices.repository.js';

/** A list row: the invoice without its lines. */
export type InvoiceSummary = Omit<InvoiceView, 'lines' | 'notes' | 'terms'>;

export interface InvoiceVersionView {
  version: number;
  changedFields: string[];
  replacedBy: string | null;
  replacedAt: string;
  snapshot: InvoiceView;
}

const SORT_COLUMNS: Record<InvoiceSort, { column: string; direction: 'ASC' | 'DESC'; cast: string }> = {
  createdAt: { column: 'created_at', direction: 'ASC', cast: 'timestamptz' },
  '-createdAt': { column: 'created_at', direction: 'DESC', cast: 'timestamptz' },
  issueDate: { column: 'issue_date', direction: 'ASC', cast: 'date' },
  '-issueDate': { column: 'issue_date', direction: 'DESC', cast: 'date' },
  dueDate: { column: 'due_date', direction: 'ASC', cast: 'date' },
  '-dueDate': { column: 'due_date', direction: 'DESC', cast: 'date' },
};

// A date, or a timestamptz as PostgreSQL writes it as text (the cursor keeps its microseconds).
const SORT_KEY_SHAPE = /^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}(?::\d{2})?)?$/;

const SUMMARY_COLUMNS = `i.id, i.business_id, i.customer_id, i.status, i.number, i.currency, i.issue_date, i.due_date, NULL AS notes, NULL AS terms,
  i.discount, i.subtotal, i.discount_total, i.tax_total, i.total, i.amount_paid, i.credited_total, i.version, i.created_at, i.updated_at,
  i.finalized_at, i.sent_at, i.last_sent_at, i.send_count, i.viewed_at, i.voided_at, i.void_reason, i.source_estimate_id, i.recurring_invoice_id`;

function customerNotFound(): AppError {
  return new AppError(404, 'customer_not_found', 'No such customer in this business.', [{ field: 'customerId', code: 'customer_not_found', message: 'customerId is not a customer of this business' }]);
}

function invoiceNotFound(): AppError {
  return AppError.notFound('invoice_not_found', 'No such invoice.');
}

const REFUSALS: Record<string, string> = {
  invoice_paid: 'A paid invoice cannot be changed.',
  invoice_void: 'This invoice is void.',
  invoice_already_finalized: 'This invoice is already finalised.',
  invoice_has_payments: 'An invoice with payments cannot be voided: issue a credit note or refund instead.',
  invoice_has_credit_notes: 'An invoice with credit notes cannot be voided.',
  invoice_not_finalized: 'Finalise the invoice first.',
  invoice_not_draft: 'Only a draft can be deleted: void a finalised invoice instead.',
};

export function assertAllowed(action: InvoiceAction, row: Pick<InvoiceRow, 'status' | 'amount_paid' | 'credited_total'>): void {
  const code = refusal(action, { status: row.status, amountPaid: BigInt(row.amount_paid), creditedTotal: BigInt(row.credited_total) });
  if (code) throw AppError.conflict(code, REFUSALS[code]);
}

/** Dates of a document: issue date defaults to today (UTC), due date to issue + net days. */
export function documentDates(input: { issueDate?: string; dueDate?: string; netDays?: number }, defaultNetDays: number, errors: FieldError[]): { issueDate: string; dueDate: string } {
  const issueDate = input.issueDate ?? todayUtc();
  if (!isIsoDate(issueDate)) errors.push({ field: 'issueDate', code: 'invalid_date', message: 'issueDate is not a real calendar date' });
  if (input.dueDate !== undefined && input.netDays !== undefined) errors.push({ field: 'netDays', code: 'conflicting_fields', message: 'give dueDate or netDays, not both' });
  if (input.dueDate !== undefined && !isIsoDate(input.dueDate)) errors.push({ field: 'dueDate', code: 'invalid_date', message: 'dueDate is not a real calendar date' });
  if (errors.length) return { issueDate, dueDate: issueDate };
  const dueDate = input.dueDate ?? addDays(issueDate, input.netDays ?? defaultNetDays);
  if (dueDate < issueDate) errors.push({ field: 'dueDate', code: 'due_before_issue', message: 'dueDate must not be before issueDate' });
  return { issueDate, dueDate };
}

@Injectable()
export class InvoicesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invoices: InvoicesRepository,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(principal: Principal, body: CreateInvoiceDto, meta: RequestMeta): Promise<InvoiceView> {
    const document = computeDocument(body);
    const errors: FieldError[] = cardNumberErrors({ notes: body.notes, terms: body.terms });
    const netDays = body.dueDate === undefined && body.netDays === undefined ? (await this.businessDefaults(principal.businessId)).defaultNetDays : 0;
    const dates = documentDates(body, netDays, errors);
    throwIfErrors(errors);
    return this.dataSource.transaction(async (tx) => {
      let id: string;
      try {
        // The composite foreign key refuses a customer of another business (or none): no lookup first.
        id = await this.invoices.insert(tx, {
          businessId: principal.businessId,
          customerId: body.customerId,
          createdBy: principal.userId,
          ...dates,
          notes: body.notes ?? null,
          terms: body.terms ?? null,
          document,
        });
      } catch (error) {
        if (violates(error, 'invoices_customer_fkey')) throw customerNotFound();
        throw error;
      }
      const view = invoiceView((await this.invoices.findWithLines(principal.businessId, id, tx))!);
      // Last, so the business's audit chain lock is held only until commit.
      await this.record(tx, principal, meta, 'invoice.created', id, { currency: document.currency, total: Number(document.total), lines: document.lines.length });
      return view;
    });
  }

  /** Creates a draft from another document's lines (estimate conversion) inside the caller's transaction. */
  async createFromDocument(tx: EntityManager, principal: Principal, input: { customerId: string; document: ComputedDocument; notes: string | null; terms: string | null; sourceEstimateId: string }, meta: RequestMeta): Promise<string> {
    const defaults = await this.businessDefaults(principal.businessId, tx);
    const issueDate = todayUtc();
    const id = await this.invoices.insert(tx, {
      businessId: principal.businessId,
      customerId: input.customerId,
      createdBy: principal.userId,
      issueDate,
      dueDate: addDays(issueDate, defaults.defaultNetDays),
      notes: input.notes,
      terms: input.terms,
      document: input.document,
      sourceEstimateId: input.sourceEstimateId,
    });
    await this.record(tx, principal, meta, 'invoice.created', id, { currency: input.document.currency, total: Number(input.document.total), sourceEstimateId: input.sourceEstimateId });
    return id;
  }

  async get(principal: Principal, id: string, meta: RequestMeta): Promise<InvoiceView> {
    const row = await this.invoices.findWithLinesLoggingView(principal.businessId, id, {
      businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'invoice.viewed', entity: { type: 'invoice', id }, ...meta,
    });
    if (!row) throw invoiceNotFound();
    return invoiceView(row);
  }

  /** For other modules (PDF, pages): the view without an audit event. */
  async view(businessId: string, id: string, runner?: EntityManager): Promise<InvoiceView> {
    const row = await this.invoices.findWithLines(businessId, id, runner);
    if (!row) throw invoiceNotFound();
    return invoiceView(row);
  }

  /** The first open of the invoice by its customer (through a signed link); later opens change nothing. */
  async markViewed(businessId: string, id: string): Promise<void> {
    await queryRows(this.dataSource, 'UPDATE invoices SET viewed_at = now() WHERE business_id = $1 AND id = $2 AND viewed_at IS NULL', [businessId, id]);
  }

  async list(businessId: string, query: ListInvoicesQuery): Promise<Page<InvoiceSummary>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const sort = query.sort ?? '-createdAt';
    const { column, direction, cast } = SORT_COLUMNS[sort];
    const today = todayUtc();
    const where = ['i.business_id = $1'];
    const params: unknown[] = [businessId];
    const bind = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.status === 'overdue') where.push(`i.status IN ('open', 'partially_paid') AND i.due_date < ${bind(today)}::date`);
    else if (query.status) where.push(`i.status = ${bind(query.status)}`);
    if (query.customerId) where.push(`i.customer_id = ${bind(query.customerId)}`);
    if (query.from) where.push(`i.issue_date >= ${bind(query.from)}::date`);
    if (query.to) where.push(`i.issue_date <= ${bind(query.to)}::date`);
    if (query.q) where.push(`i.number LIKE ${bind(query.q.replace(/[\\%_]/g, (char) => `\\${char}`) + '%')}`);
    if (query.cursor) {
      const [value, id] = decodeCursor(query.cursor, sort, 2);
      if (!UUID_SHAPE.test(id) || !SORT_KEY_SHAPE.test(value)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not valid' }]);
      where.push(`(i.${column}, i.id) ${direction === 'DESC' ? '<' : '>'} (${bind(value)}::${cast}, ${bind(id)}::uuid)`);
    }
    const rows: Array<InvoiceRow & { sort_key: string }> = await this.dataSource.query(
      `SELECT ${SUMMARY_COLUMNS}, i.${column}::text AS sort_key FROM invoices i WHERE ${where.join(' AND ')}
        ORDER BY i.${column} ${direction}, i.id ${direction} LIMIT ${limit + 1}`,
      params,
    );
    return toPage(rows, limit, sort, (row) => [row.sort_key, row.id], (row) => {
      const { lines: _lines, notes: _notes, terms: _terms, ...summary } = invoiceView({ ...row, lines: [] }, today);
      return summary;
    });
  }

  async update(principal: Principal, id: string, ifMatch: string | undefined, body: UpdateInvoiceDto, meta: RequestMeta): Promise<InvoiceView> {
    const errors: FieldError[] = cardNumberErrors({ notes: body.notes, terms: body.terms });
    throwIfErrors(errors);
    return this.dataSource.transaction(async (tx) => {
      const row = await this.invoices.lock(tx, principal.businessId, id);
      if (!row) throw invoiceNotFound();
      assertVersion(versionFromIfMatch(ifMatch), row.version);
      assertAllowed('edit', row);
      if (body.currency !== undefined && body.currency !== row.currency && row.status !== 'draft') {
        throw AppError.conflict('currency_locked', 'The currency of a finalised invoice cannot change.');
      }
      const current = (await this.invoices.findWithLines(principal.businessId, id, tx))!;
      const changed: string[] = [];
      if (body.customerId !== undefined && body.customerId !== row.customer_id) {
        if (!(await this.invoices.customerExists(tx, principal.businessId, body.customerId))) throw customerNotFound();
        changed.push('customerId');
      }
      const defaults = await this.businessDefaults(principal.businessId, tx);
      const dateInput = {
        issueDate: body.issueDate ?? row.issue_date,
        ...(body.dueDate !== undefined || body.netDays !== undefined ? { dueDate: body.dueDate, netDays: body.netDays } : { dueDate: row.due_date }),
      };
      const dates = documentDates(dateInput, defaults.defaultNetDays, errors);
      throwIfErrors(errors);
      if (dates.issueDate !== row.issue_date) changed.push('issueDate');
      if (dates.dueDate !== row.due_date) changed.push('dueDate');
      for (const field of ['notes', 'terms'] as const) if (body[field] !== undefined && body[field] !== row[field]) changed.push(field);

      let document: ComputedDocument | undefined;
      if (body.lines !== undefined || body.discount !== undefined || (body.currency !== undefined && body.currency !== row.currency)) {
        document = computeDocument({
          currency: body.currency ?? row.currency,
          lines: body.lines ?? storedLineBodies(current.lines),
          discount: body.discount ?? row.discount,
        });
        if (document.currency !== row.currency) changed.push('currency');
        if (body.lines !== undefined) changed.push('lines');
        if (document.documentDiscount !== BigInt(row.discount)) changed.push('discount');
        if (row.status !== 'draft' && document.total < BigInt(row.amount_paid) + BigInt(row.credited_total)) {
          throw AppError.conflict('total_below_settled', 'The new total would be less than what is already paid and credited.');
        }
      }
      if (changed.length === 0) return invoiceView(current);

      if (row.status !== 'draft') await this.snapshot(tx, principal, current, changed);
      const status = row.status === 'draft' || !document ? row.status : settledStatus(document.total, BigInt(row.credited_total), BigInt(row.amount_paid));
      await queryRows(tx,
        `UPDATE invoices SET customer_id = $3, issue_date = $4, due_date = $5, notes = $6, terms = $7, currency = $8, discount = $9,
                subtotal = $10, discount_total = $11, tax_total = $12, total = $13, status = $14, version = version + 1, updated_at = now()
          WHERE business_id = $1 AND id = $2`,
        [
          principal.businessId, id, body.customerId ?? row.customer_id, dates.issueDate, dates.dueDate,
          body.notes !== undefined ? body.notes : row.notes, body.terms !== undefined ? body.terms : row.terms,
          document?.currency ?? row.currency, (document?.documentDiscount ?? BigInt(row.discount)).toString(),
          (document?.subtotal ?? BigInt(row.subtotal)).toString(), (document?.discountTotal ?? BigInt(row.discount_total)).toString(),
          (document?.taxTotal ?? BigInt(row.tax_total)).toString(), (document?.total ?? BigInt(row.total)).toString(), status,
        ],
      );
      if (document && (body.lines !== undefined || changed.includes('discount') || changed.includes('currency'))) await this.invoices.replaceLines(tx, principal.businessId, id, document);
      await this.record(tx, principal, meta, 'invoice.updated', id, { changedFields: changed, version: row.version + 1 });
      return invoiceView((await this.invoices.findWithLines(principal.businessId, id, tx))!);
    });
  }

  async finalize(principal: Principal, id: string, meta: RequestMeta): Promise<InvoiceView> {
    return this.dataSource.transaction(async (tx) => {
      const row = await this.invoices.lock(tx, principal.businessId, id);
      if (!row) throw invoiceNotFound();
      await this.finalizeLocked(tx, principal, row, meta);
      return invoiceView((await this.invoices.findWithLines(principal.businessId, id, tx))!);
    });
  }

  /** Finalises a locked draft: takes the next number in the same transaction. */
  private async finalizeLocked(tx: EntityManager, principal: Principal, row: InvoiceRow, meta: RequestMeta): Promise<string> {
    assertAllowed('finalize', row);
    const { sequence, number } = await nextDocumentNumber(tx, principal.businessId, 'invoice', row.issue_date);
    const status = settledStatus(BigInt(row.total), BigInt(row.credited_total), BigInt(row.amount_paid));
    try {
      await queryRows(tx,
        `UPDATE invoices SET number = $3, sequence = $4, status = $5, finalized_at = now(), version = version + 1, updated_at = now() WHERE business_id = $1 AND id = $2`,
        [principal.businessId, row.id, number, sequence, status],
      );
    } catch (error) {
      if (violates(error, 'invoices_number_key')) {
        throw AppError.conflict('document_number_taken', `The number ${number} is already used by another invoice: the number format was changed to one that repeats an earlier number. Change the format in the settings.`);
      }
      throw error;
    }
    await this.record(tx, principal, meta, 'invoice.finalized', row.id, { number });
    return number;
  }

  /** Finalises if needed, records the send and queues the invoice email to the customer. */
  async send(principal: Principal, id: string, meta: RequestMeta): Promise<InvoiceView> {
    const { view, emailId } = await this.dataSource.transaction(async (tx) => {
      const row = await this.invoices.lock(tx, principal.businessId, id);
      if (!row) throw invoiceNotFound();
      assertAllowed('send', row);
      const [recipient]: Array<{ email: string | null; name: string; business_name: string }> = await tx.query(
        'SELECT c.email, c.name, b.name AS business_name FROM customers c JOIN businesses b ON b.id = c.business_id WHERE c.business_id = $1 AND c.id = $2',
        [principal.businessId, row.customer_id],
      );
      if (!recipient?.email) throw AppError.conflict('customer_email_missing', 'The customer has no email address: add one before sending.');
      if (row.status === 'draft') await this.finalizeLocked(tx, principal, row, meta);
      await queryRows(tx,
        `UPDATE invoices SET sent_at = coalesce(sent_at, now()), last_sent_at = now(), send_count = send_count + 1, updated_at = now() WHERE business_id = $1 AND id = $2`,
        [principal.businessId, id],
      );
      const sent = invoiceView((await this.invoices.findWithLines(principal.businessId, id, tx))!);
      const link = await emailLink(tx, this.config, { kind: 'pay', businessId: principal.businessId, documentId: id });
      const emailId = await this.outbox.enqueue(tx, {
        businessId: principal.businessId,
        to: recipient.email,
        template: 'invoice',
        document: { type: 'invoice', id },
        content: templates.invoice({
          businessName: recipient.business_name,
          customerName: recipient.name,
          number: sent.number!,
          total: `${formatMoney(BigInt(sent.total), sent.currency)} ${sent.currency}`,
          balanceDue: `${formatMoney(BigInt(sent.balanceDue), sent.currency)} ${sent.currency}`,
          dueDate: sent.dueDate,
          viewUrl: link.url,
        }),
      });
      await this.record(tx, principal, meta, 'invoice.sent', id, { number: sent.number, emailId, sendCount: sent.sendCount });
      return { view: sent, emailId };
    });
    await this.outbox.dispatch([emailId]);
    return view;
  }

  async void(principal: Principal, id: string, reason: string, meta: RequestMeta): Promise<InvoiceView> {
    throwIfErrors(cardNumberErrors({ reason }));
    return this.dataSource.transaction(async (tx) => {
      const row = await this.invoices.lock(tx, principal.businessId, id);
      if (!row) throw invoiceNotFound();
      assertAllowed('void', row);
      if (row.status !== 'draft') await this.snapshot(tx, principal, (await this.invoices.findWithLines(principal.businessId, id, tx))!, ['status']);
      await queryRows(tx,
        `UPDATE invoices SET status = 'void', voided_at = now(), void_reason = $3, version = version + 1, updated_at = now() WHERE business_id = $1 AND id = $2`,
        [principal.businessId, id, reason],
      );
      await this.record(tx, principal, meta, 'invoice.voided', id, { reason, number: row.number });
      return invoiceView((await this.invoices.findWithLines(principal.businessId, id, tx))!);
    });
  }

  async remove(principal: Principal, id: string, meta: RequestMeta): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const row = await this.invoices.lock(tx, principal.businessId, id);
      if (!row) throw invoiceNotFound();
      assertAllowed('delete', row);
      await queryRows(tx, 'DELETE FROM invoices WHERE business_id = $1 AND id = $2', [principal.businessId, id]);
      await this.record(tx, principal, meta, 'invoice.deleted', id, { total: Number(row.total), currency: row.currency });
    });
  }

  async versions(businessId: string, id: string): Promise<{ data: InvoiceVersionView[] }> {
    const exists: unknown[] = await this.dataSource.query('SELECT 1 FROM invoices WHERE business_id = $1 AND id = $2', [businessId, id]);
    if (exists.length === 0) throw invoiceNotFound();
    const rows: Array<{ version: number; changed_fields: string[]; replaced_by: string | null; replaced_at: Date; snapshot: InvoiceView }> = await this.dataSource.query(
      'SELECT version, changed_fields, replaced_by, replaced_at, snapshot FROM invoice_versions WHERE business_id = $1 AND invoice_id = $2 ORDER BY version',
      [businessId, id],
    );
    return { data: rows.map((row) => ({ version: row.version, changedFields: row.changed_fields, replacedBy: row.replaced_by, replacedAt: row.replaced_at.toISOString(), snapshot: row.snapshot })) };
  }

  async businessDefaults(businessId: string, runner: Pick<EntityManager, 'query'> = this.dataSource): Promise<{ defaultNetDays: number }> {
    const [row]: Array<{ default_net_days: number }> = await runner.query('SELECT default_net_days FROM businesses WHERE id = $1', [businessId]);
    return { defaultNetDays: row.default_net_days };
  }

  /** Stores the invoice as it is now, before a change: written once, never changed (a trigger refuses edits). */
  private async snapshot(tx: EntityManager, principal: Principal, current: Parameters<typeof invoiceView>[0], changedFields: string[]): Promise<void> {
    await tx.query(
      'INSERT INTO invoice_versions (business_id, invoice_id, version, snapshot, changed_fields, replaced_by) VALUES ($1, $2, $3, $4, $5, $6)',
      [principal.businessId, current.id, current.version, JSON.stringify({ ...invoiceView(current), lastEmail: undefined }), changedFields, principal.userId],
    );
  }

  private record(tx: EntityManager, principal: Principal, meta: RequestMeta, action: string, invoiceId: string, detail: Record<string, unknown>): Promise<void> {
    return this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action, entity: { type: 'invoice', id: invoiceId }, detail, ...meta }, tx);
  }
}

/** Stored lines back in request form, to recompute a document when only its discount changes. */
export function storedLineBodies(lines: Array<{ description: string; quantity: string; unit_price: string | number; tax_rate_bps: number; discount: string | number }>): LineBody[] {
  return lines.map((line) => ({
    description: line.description,
    quantity: displayQuantity(String(line.quantity)),
    unitPrice: String(line.unit_price),
    taxRateBps: line.tax_rate_bps,
    discount: String(line.discount),
  }));
}
