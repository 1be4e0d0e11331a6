import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { todayUtc } from '../common/dates.js';
import { AppError } from '../common/errors/app-error.js';
import { MoneyError, parseMinorUnits, roundHalfEven } from '../common/money/money.js';
import { queryRows } from '../database/sql.js';
import { cardNumberErrors, computeDocument, lineView, throwIfErrors, type LineView } from './document-lines.js';
import { nextDocumentNumber } from './document-numbers.js';
import { settledStatus } from './invoice-status.js';
import type { CreditNoteSummary } from './invoice-pdf.js';
import type { CreditNoteDto } from './invoices.dto.js';
import { InvoicesRepository } from './invoices.repository.js';
import { assertAllowed } from './invoices.service.js';

export interface CreditNoteView {
  id: string;
  invoiceId: string;
  number: string;
  currency: string;
  issueDate: string;
  reason: string;
  lines: LineView[];
  subtotal: number;
  taxTotal: number;
  total: number;
  createdAt: string;
}

interface CreditNoteRow {
  id: string;
  invoice_id: string;
  number: string;
  currency: string;
  issue_date: string;
  reason: string;
  lines: Parameters<typeof lineView>[0][];
  subtotal: string;
  tax_total: string;
  total: string;
  created_at: Date;
}

function creditNoteView(row: CreditNoteRow): CreditNoteView {
  return {
    id: row.id,
    invoiceId: row.invoice_id,
    number: row.number,
    currency: row.currency,
    issueDate: row.issue_date,
    reason: row.reason,
    lines: row.lines.map(lineView),
    subtotal: Number(row.subtotal),
    taxTotal: Number(row.tax_total),
    total: Number(row.total),
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * Credit notes reduce what a customer owes on a finalised invoice. They have their own gap-free
 * sequence (`CN-`), are immutable once written (a trigger refuses edits), and their sum never
 * exceeds the invoice total. An amount-only credit note splits its tax in proportion to the
 * invoice's tax, so tax reports stay right without the user itemising.
 */
@Injectable()
export class CreditNotesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invoices: InvoicesRepository,
    private readonly audit: AuditService,
  ) {}

  async create(principal: Principal, invoiceId: string, body: CreditNoteDto, meta: RequestMeta): Promise<CreditNoteView> {
    if ((body.lines === undefined) === (body.amount === undefined)) {
      throw AppError.validation([{ field: body.lines ? 'amount' : 'lines', code: 'lines_or_amount', message: 'give either lines or amount' }]);
    }
    throwIfErrors(cardNumberErrors({ reason: body.reason }));
    const view = await this.dataSource.transaction(async (tx) => {
      const invoice = await this.invoices.lock(tx, principal.businessId, invoiceId);
      if (!invoice) throw AppError.notFound('invoice_not_found', 'No such invoice.');
      assertAllowed('credit', invoice);

      let amounts: { lines: unknown[]; subtotal: bigint; tax: bigint; total: bigint };
      if (body.lines) {
        const document = computeDocument({ currency: invoice.currency, lines: body.lines });
        amounts = {
          lines: document.lines.map((line) => ({
            description: line.description, quantity: line.quantityText, unit_price: Number(line.unitPrice), tax_rate_bps: line.taxRateBps,
            discount: Number(line.discount), subtotal: Number(line.subtotal), discount_total: Number(line.discount), tax: Number(line.tax), total: Number(line.total),
          })),
          subtotal: document.subtotal - document.discountTotal,
          tax: document.taxTotal,
          total: document.total,
        };
      } else {
        let total: bigint;
        try {
          total = parseMinorUnits(body.amount, invoice.currency);
        } catch (error) {
          if (!(error instanceof MoneyError)) throw error;
          throw AppError.validation([{ field: 'amount', code: error.code, message: `amount: ${error.message}` }]);
        }
        const invoiceTotal = BigInt(invoice.total);
        const tax = invoiceTotal === 0n ? 0n : roundHalfEven(total * BigInt(invoice.tax_total), invoiceTotal);
        amounts = { lines: [], subtotal: total - tax, tax, total };
      }
      if (amounts.total <= 0n) throw AppError.validation([{ field: body.lines ? 'lines' : 'amount', code: 'zero', message: 'a credit note must credit more than zero' }]);
      const creditable = BigInt(invoice.total) - BigInt(invoice.credited_total);
      if (amounts.total > creditable) {
        throw AppError.validation([{ field: body.lines ? 'lines' : 'amount', code: 'credit_exceeds_invoice', message: `at most ${creditable} minor units can still be credited on this invoice` }]);
      }

      const issueDate = todayUtc();
      const { sequence, number } = await nextDocumentNumber(tx, principal.businessId, 'creditNote', issueDate);
      const [row]: CreditNoteRow[] = await tx.query(
        `INSERT INTO credit_notes (business_id, invoice_id, number, sequence, currency, issue_date, reason, lines, subtotal, tax_total, total, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING id, invoice_id, number, currency, issue_date, reason, lines, subtotal, tax_total, total, created_at`,
        [principal.businessId, invoiceId, number, sequence, invoice.currency, issueDate, body.reason, JSON.stringify(amounts.lines), amounts.subtotal.toString(), amounts.tax.toString(), amounts.total.toString(), principal.userId],
      );
      const credited = BigInt(invoice.credited_total) + amounts.total;
      await queryRows(tx, 'UPDATE invoices SET credited_total = $3, status = $4, updated_at = now() WHERE business_id = $1 AND id = $2', [
        principal.businessId, invoiceId, credited.toString(), settledStatus(BigInt(invoice.total), credited, BigInt(invoice.amount_paid)),
      ]);
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'invoice.credited', entity: { type: 'invoice', id: invoiceId }, detail: { creditNoteId: row.id, number, total: Number(amounts.total), reason: body.reason }, ...meta },
        tx,
      );
      return creditNoteView(row);
    });
    return view;
  }

  /** What an invoice PDF prints about its credit notes; the caller has already found the invoice. */
  async summaries(businessId: string, invoiceId: string): Promise<CreditNoteSummary[]> {
    const rows: Array<{ number: string; issue_date: string; total: string; reason: string }> = await this.dataSource.query(
      'SELECT number, issue_date, total, reason FROM credit_notes WHERE business_id = $1 AND invoice_id = $2 ORDER BY created_at, sequence',
      [businessId, invoiceId],
    );
    return rows.map((row) => ({ number: row.number, issueDate: row.issue_date, total: Number(row.total), reason: row.reason }));
  }

  async list(businessId: string, invoiceId: string): Promise<{ data: CreditNoteView[] }> {
    const exists: unknown[] = await this.dataSource.query('SELECT 1 FROM invoices WHERE business_id = $1 AND id = $2', [businessId, invoiceId]);
    if (exists.length === 0) throw AppError.notFound('invoice_not_found', 'No such invoice.');
    const rows: CreditNoteRow[] = await this.dataSource.query(
      'SELECT id, invoice_id, number, currency, issue_date, reason, lines, subtotal, tax_total, total, created_at FROM credit_notes WHERE business_id = $1 AND invoice_id = $2 ORDER BY created_at, sequence',
      [businessId, invoiceId],
    );
    return { data: rows.map(creditNoteView) };
  }
}
