import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService, type AuditInput } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { todayUtc } from '../common/dates.js';
import { AppError, type FieldError } from '../common/errors/app-error.js';
import { assertVersion, versionFromIfMatch } from '../common/http/etag.js';
import { formatMoney } from '../common/money/money.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { violates } from '../database/pg-errors.js';
import { emailLink } from '../links/links.service.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';
import { cardNumberErrors, computeDocument, throwIfErrors, type ComputedDocument } from './document-lines.js';
import { nextDocumentNumber } from './document-numbers.js';
import { effectiveStatus, REFUSAL_DETAILS, refusal, statusAfter, type EstimateAction } from './estimate-status.js';
import type { EstimateView } from './estimate-view.js';
import { DEFAULT_VALID_DAYS, type CreateEstimateDto, type ListEstimatesQuery, type UpdateEstimateDto } from './estimates.dto.js';
import { CURSOR_TIME, estimateSummary, estimateView, EstimatesRepository, type EstimateRow, type EstimateSummary } from './estimates.repository.js';
import type { InvoiceView } from './invoice-view.js';
import { InvoicesRepository } from './invoices.repository.js';
import { documentDates, InvoicesService, storedLineBodies } from './invoices.service.js';

export type { EstimateSummary } from './estimates.repository.js';

type Actor = AuditInput['actor'];

const LIST_SORT = '-createdAt';
/** Every change but storing `expired` bumps the version (the ETag) and updated_at. */
const TOUCH = ['version = version + 1', 'updated_at = now()'];

function estimateNotFound(): AppError {
  return AppError.notFound('estimate_not_found', 'No such estimate.');
}

function unknownCustomer(): AppError {
  const field: FieldError = { field: 'customerId', code: 'customer_not_found', message: 'customerId is not a customer of this business' };
  return new AppError(404, field.code!, 'No such customer in this business.', [field]);
}

// The invoice date rules (documentDates) speak of dueDate and netDays; an estimate's are expiryDate and validDays.
const DATE_WORDS: Record<string, string> = { dueDate: 'expiryDate', netDays: 'validDays', due_before_issue: 'expiry_before_issue' };
const renameDateWords = (text: string): string => text.replace(/dueDate|netDays|due_before_issue/g, (word) => DATE_WORDS[word]);

/** Issue date (default today, UTC) and expiry date (expiryDate, or issue + validDays, default 30). */
export function estimateDates(input: { issueDate?: string; expiryDate?: string; validDays?: number }, errors: FieldError[]): { issueDate: string; expiryDate: string } {
  const found: FieldError[] = [];
  const dates = documentDates({ issueDate: input.issueDate, dueDate: input.expiryDate, netDays: input.validDays }, DEFAULT_VALID_DAYS, found);
  errors.push(...found.map((error) => ({ field: renameDateWords(error.field), message: renameDateWords(error.message), ...(error.code ? { code: renameDateWords(error.code) } : {}) })));
  return { issueDate: dates.issueDate, expiryDate: dates.dueDate };
}

/** The amounts columns of a computed document. */
function amountColumns(document: ComputedDocument): Record<string, string> {
  return {
    currency: document.currency,
    discount: document.documentDiscount.toString(),
    subtotal: document.subtotal.toString(),
    discount_total: document.discountTotal.toString(),
    tax_total: document.taxTotal.toString(),
    total: document.total.toString(),
  };
}

const userActor = (principal: Principal): Actor => ({ type: 'user', id: principal.userId });
const CUSTOMER: Actor = { type: 'customer', id: null };

/**
 * Estimates (quotes): the invoice line model, a gap-free `EST-` number on first send, the
 * customer's answer (recorded by the business, or by the customer through the public page),
 * and a one-time conversion into a draft invoice. Every change is one transaction holding the
 * estimate's row lock, with its audit event inside.
 */
@Injectable()
export class EstimatesService {
  private readonly rows: EstimatesRepository;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invoiceRows: InvoicesRepository,
    private readonly invoices: InvoicesService,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.rows = new EstimatesRepository(dataSource, invoiceRows);
  }

  async create(principal: Principal, body: CreateEstimateDto, meta: RequestMeta): Promise<EstimateView> {
    const document = computeDocument(body);
    const errors = cardNumberErrors({ notes: body.notes, terms: body.terms });
    const dates = estimateDates(body, errors);
    throwIfErrors(errors);
    return this.dataSource.transaction(async (tx) => {
      if (!(await this.invoiceRows.customerExists(tx, principal.businessId, body.customerId))) throw unknownCustomer();
      const text = { notes: body.notes ?? null, terms: body.terms ?? null };
      const id = await this.rows.insert(tx, { ...dates, ...text, document, customerId: body.customerId, businessId: principal.businessId, createdBy: principal.userId });
      await this.record(tx, principal.businessId, userActor(principal), meta, 'estimate.created', id, { currency: document.currency, total: Number(document.total), lines: document.lines.length });
      return this.load(principal.businessId, id, tx);
    });
  }

  async get(principal: Principal, id: string, meta: RequestMeta): Promise<EstimateView> {
    const view = await this.load(principal.businessId, id);
    await this.audit.recordSoon({ businessId: principal.businessId, actor: userActor(principal), action: 'estimate.viewed', entity: { type: 'estimate', id }, ...meta });
    return view;
  }

  /** For other modules (the public estimate page): the view without an audit event; 404 `estimate_not_found`. */
  async view(businessId: string, id: string): Promise<EstimateView> {
    return this.load(businessId, id);
  }

  /** The first open of the estimate by its customer (through a signed link); later opens change nothing. */
  async markViewed(businessId: string, id: string): Promise<void> {
    await this.rows.markViewed(businessId, id);
  }

  async list(businessId: string, query: ListEstimatesQuery): Promise<Page<EstimateSummary>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    let after: { createdAt: string; id: string } | undefined;
    if (query.cursor) {
      const [createdAt, id] = decodeCursor(query.cursor, LIST_SORT, 2);
      if (!UUID_SHAPE.test(id) || !CURSOR_TIME.test(createdAt)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not valid' }]);
      after = { createdAt, id };
    }
    const today = todayUtc();
    const rows = await this.rows.list(businessId, { status: query.status, customerId: query.customerId, after }, today, limit);
    return toPage(rows, limit, LIST_SORT, (row) => [row.cursor_at, row.id], (row) => estimateSummary(row, today));
  }

  async update(principal: Principal, id: string, ifMatch: string | undefined, body: UpdateEstimateDto, meta: RequestMeta): Promise<EstimateView> {
    const errors = cardNumberErrors({ notes: body.notes, terms: body.terms });
    throwIfErrors(errors);
    const { businessId } = principal;
    return this.change(businessId, id, 'edit', async (tx, row) => {
      const current = (await this.rows.find(businessId, id, tx))!;
      const values: Record<string, unknown> = {};
      const changed: string[] = [];
      const set = (field: string, column: string, value: unknown): void => {
        changed.push(field);
        values[column] = value;
      };
      if (body.customerId !== undefined && body.customerId !== row.customer_id) {
        if (!(await this.invoiceRows.customerExists(tx, businessId, body.customerId))) throw unknownCustomer();
        set('customerId', 'customer_id', body.customerId);
      }
      const expiryGiven = body.expiryDate !== undefined || body.validDays !== undefined;
      const dates = estimateDates({ issueDate: body.issueDate ?? row.issue_date, ...(expiryGiven ? { expiryDate: body.expiryDate, validDays: body.validDays } : { expiryDate: row.expiry_date }) }, errors);
      throwIfErrors(errors);
      if (dates.issueDate !== row.issue_date) set('issueDate', 'issue_date', dates.issueDate);
      if (dates.expiryDate !== row.expiry_date) set('expiryDate', 'expiry_date', dates.expiryDate);
      for (const field of ['notes', 'terms'] as const) if (body[field] !== undefined && body[field] !== row[field]) set(field, field, body[field]);

      let document: ComputedDocument | undefined;
      if (body.lines !== undefined || body.discount !== undefined || (body.currency !== undefined && body.currency !== row.currency)) {
        document = computeDocument({ currency: body.currency ?? row.currency, lines: body.lines ?? storedLineBodies(current.lines), discount: body.discount ?? row.discount });
        if (document.currency !== row.currency) changed.push('currency');
        if (body.lines !== undefined) changed.push('lines');
        if (document.documentDiscount !== BigInt(row.discount)) changed.push('discount');
        if (changed.some((field) => ['currency', 'lines', 'discount'].includes(field))) Object.assign(values, amountColumns(document));
      }
      if (changed.length === 0) return estimateView(current);

      await this.rows.update(tx, businessId, id, values, TOUCH);
      if (document && 'total' in values) await this.rows.replaceLines(tx, businessId, id, document);
      await this.record(tx, businessId, userActor(principal), meta, 'estimate.updated', id, { changedFields: changed, version: row.version + 1 });
      return this.load(businessId, id, tx);
    }, { ifMatch });
  }

  /** Numbers the estimate on its first send (draft → sent), records the send and queues the email to the customer. */
  async send(principal: Principal, id: string, meta: RequestMeta): Promise<EstimateView> {
    const { businessId } = principal;
    const { view, emailId } = await this.change(businessId, id, 'send', async (tx, row) => {
      const recipient = await this.rows.recipient(tx, businessId, id);
      if (!recipient?.email) throw AppError.conflict('customer_email_missing', 'The customer has no email address: add one before sending.');
      const values: Record<string, unknown> = {};
      const expressions = ['sent_at = coalesce(sent_at, now())', 'last_sent_at = now()', 'send_count = send_count + 1', 'updated_at = now()'];
      if (row.status === 'draft') {
        const { sequence, number } = await nextDocumentNumber(tx, businessId, 'estimate', row.issue_date);
        Object.assign(values, { number, sequence, status: statusAfter('send', row.status) });
        expressions.push('version = version + 1');
      }
      try {
        await this.rows.update(tx, businessId, id, values, expressions);
      } catch (error) {
        if (!violates(error, 'estimates_number_key')) throw error;
        throw AppError.conflict('document_number_taken', `The number ${String(values.number)} is already used by another estimate: the number format was changed to one that repeats an earlier number. Change the format in the settings.`);
      }
      const sent = await this.load(businessId, id, tx);
      const link = await emailLink(tx, this.config, { kind: 'estimate', businessId, documentId: id });
      const emailId = await this.outbox.enqueue(tx, {
        businessId,
        to: recipient.email,
        template: 'estimate',
        document: { type: 'estimate', id },
        content: templates.estimate({
          businessName: recipient.business_name,
          customerName: recipient.name,
          number: sent.number!,
          total: `${formatMoney(BigInt(sent.total), sent.currency)} ${sent.currency}`,
          expiryDate: sent.expiryDate,
          viewUrl: link.url,
        }),
      });
      await this.record(tx, businessId, userActor(principal), meta, 'estimate.sent', id, { number: sent.number, emailId, sendCount: sent.sendCount });
      return { view: sent, emailId };
    });
    await this.outbox.dispatch([emailId]);
    return view;
  }

  /** The customer's yes, as told to the business (by phone, in person). */
  accept(principal: Principal, id: string, meta: RequestMeta): Promise<EstimateView> {
    return this.answer(principal.businessId, id, 'accept', userActor(principal), meta);
  }

  decline(principal: Principal, id: string, meta: RequestMeta): Promise<EstimateView> {
    return this.answer(principal.businessId, id, 'decline', userActor(principal), meta);
  }

  /** The customer accepts on the public estimate page: same rules, the customer as the actor. */
  acceptFromLink(businessId: string, id: string, meta: RequestMeta): Promise<EstimateView> {
    return this.answer(businessId, id, 'accept', CUSTOMER, meta);
  }

  declineFromLink(businessId: string, id: string, meta: RequestMeta): Promise<EstimateView> {
    return this.answer(businessId, id, 'decline', CUSTOMER, meta);
  }

  /** Creates the draft invoice from an accepted estimate, once, and marks the estimate converted. */
  async convert(principal: Principal, id: string, meta: RequestMeta): Promise<{ estimate: EstimateView; invoice: InvoiceView }> {
    const { businessId } = principal;
    return this.change(businessId, id, 'convert', async (tx, row) => {
      const current = (await this.rows.find(businessId, id, tx))!;
      const document = computeDocument({ currency: row.currency, lines: storedLineBodies(current.lines), discount: row.discount });
      let invoiceId: string;
      try {
        invoiceId = await this.invoices.createFromDocument(tx, principal, { customerId: row.customer_id, document, notes: row.notes, terms: row.terms, sourceEstimateId: id }, meta);
      } catch (error) {
        // The row lock makes this unreachable; the UNIQUE constraint is the last line of defence.
        if (violates(error, 'invoices_source_estimate_key')) throw AppError.conflict('estimate_already_converted', REFUSAL_DETAILS.estimate_already_converted);
        throw error;
      }
      await this.rows.update(tx, businessId, id, { status: statusAfter('convert', row.status) }, ['converted_at = now()', ...TOUCH]);
      await this.record(tx, businessId, userActor(principal), meta, 'estimate.converted', id, { invoiceId, number: row.number });
      return { estimate: await this.load(businessId, id, tx), invoice: await this.invoices.view(businessId, invoiceId, tx) };
    });
  }

  async remove(principal: Principal, id: string, meta: RequestMeta): Promise<void> {
    await this.change(principal.businessId, id, 'delete', async (tx, row) => {
      await this.rows.delete(tx, principal.businessId, id);
      await this.record(tx, principal.businessId, userActor(principal), meta, 'estimate.deleted', id, { total: Number(row.total), currency: row.currency });
    });
  }

  private answer(businessId: string, id: string, action: 'accept' | 'decline', actor: Actor, meta: RequestMeta): Promise<EstimateView> {
    return this.change(businessId, id, action, async (tx, row) => {
      // The customer answering through their link is named, so their IP and browser are sealed under their key.
      if (actor.type === 'customer') actor = { type: 'customer', id: row.customer_id };
      const status = statusAfter(action, row.status);
      if (action === 'accept') await this.rows.update(tx, businessId, id, { status, accepted_ip: meta.ip, accepted_user_agent: meta.userAgent }, ['accepted_at = now()', ...TOUCH]);
      else await this.rows.update(tx, businessId, id, { status }, ['declined_at = now()', ...TOUCH]);
      await this.record(tx, businessId, actor, meta, `estimate.${status}`, id, { number: row.number });
      return this.load(businessId, id, tx);
    });
  }

  /**
   * One change of one estimate: locks it (404 when it is not this business's), checks If-Match
   * when asked (428/412), stores `expired` when the expiry date has passed, then refuses the
   * action with 409 or runs `work` in the same transaction. A refusal commits the stored
   * `expired` (and its audit event) before it is thrown.
   */
  private async change<T>(businessId: string, id: string, action: EstimateAction, work: (tx: EntityManager, row: EstimateRow) => Promise<T>, options: { ifMatch?: string } = {}): Promise<T> {
    const outcome = await this.dataSource.transaction(async (tx): Promise<{ refused: string } | { done: T }> => {
      const row = await this.rows.lock(tx, businessId, id);
      if (!row) throw estimateNotFound();
      if ('ifMatch' in options) assertVersion(versionFromIfMatch(options.ifMatch), row.version);
      const status = effectiveStatus(row.status, row.expiry_date, todayUtc());
      if (status !== row.status) {
        // What every view already shows, now stored: the version (ETag) stays.
        await this.rows.update(tx, businessId, id, { status });
        await this.record(tx, businessId, { type: 'system', id: null }, { ip: null, userAgent: null }, 'estimate.expired', id, { expiryDate: row.expiry_date, number: row.number });
      }
      const code = refusal(action, status);
      if (code) return { refused: code };
      return { done: await work(tx, { ...row, status }) };
    });
    if ('refused' in outcome) throw AppError.conflict(outcome.refused, REFUSAL_DETAILS[outcome.refused]);
    return outcome.done;
  }

  private async load(businessId: string, id: string, runner?: EntityManager): Promise<EstimateView> {
    const row = await this.rows.find(businessId, id, runner);
    if (!row) throw estimateNotFound();
    return estimateView(row);
  }

  private record(tx: EntityManager, businessId: string, actor: Actor, meta: RequestMeta, action: string, estimateId: string, detail: Record<string, unknown>): Promise<void> {
    return this.audit.record({ businessId, actor, action, entity: { type: 'estimate', id: estimateId }, detail, ...meta }, tx);
  }
}
