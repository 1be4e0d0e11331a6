import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { inboxColumns, inboxValues, type AuditInput } from '../audit/audit.service.js';
import { todayUtc } from '../common/dates.js';
import { preparedQuery, queryRows } from '../database/sql.js';
import { lineView, type ComputedDocument, type StoredLine } from './document-lines.js';
import { balanceDue, displayStatus, isOverdue } from './invoice-status.js';
import type { InvoiceStatus, InvoiceView, LastEmail } from './invoice-view.js';

type Runner = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

/** The columns of an invoice row as node-postgres returns them (bigint as string, date as text). */
export interface InvoiceRow {
  id: string;
  business_id: string;
  customer_id: string;
  status: InvoiceStatus;
  number: string | null;
  currency: string;
  issue_date: string;
  due_date: string;
  notes: string | null;
  terms: string | null;
  discount: string;
  subtotal: string;
  discount_total: string;
  tax_total: string;
  total: string;
  amount_paid: string;
  credited_total: string;
  version: number;
  created_at: Date;
  updated_at: Date;
  finalized_at: Date | null;
  sent_at: Date | null;
  last_sent_at: Date | null;
  send_count: number;
  viewed_at: Date | null;
  voided_at: Date | null;
  void_reason: string | null;
  source_estimate_id: string | null;
  recurring_invoice_id: string | null;
}

export interface InvoiceWithLines extends InvoiceRow {
  lines: StoredLine[];
  last_email?: LastEmail | null;
}

// Lines come back in the same round trip, as JSON built by PostgreSQL (quantity as text: exact).
const LINES_JSON = `(SELECT coalesce(json_agg(json_build_object(
      'description', l.description, 'quantity', l.quantity::text, 'unit_price', l.unit_price, 'tax_rate_bps', l.tax_rate_bps,
      'discount', l.discount, 'subtotal', l.subtotal, 'discount_total', l.discount_total, 'tax', l.tax, 'total', l.total) ORDER BY l.position), '[]'::json)
    FROM invoice_lines l WHERE l.invoice_id = i.id) AS lines`;

// The newest email about the invoice (send, reminder, receipt) and its delivery state, so a failed send shows on the invoice.
const LAST_EMAIL_JSON = `(SELECT json_build_object('id', e.id, 'template', e.template, 'status', e.status, 'errorCode', e.error_code,
      'createdAt', e.created_at, 'sentAt', e.sent_at, 'deliveredAt', e.delivered_at, 'failedAt', e.failed_at)
    FROM emails e WHERE e.business_id = i.business_id AND e.document_type = 'invoice' AND e.document_id = i.id
    ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS last_email`;

export const INVOICE_COLUMNS = `i.id, i.business_id, i.customer_id, i.status, i.number, i.currency, i.issue_date, i.due_date, i.notes, i.terms,
  i.discount, i.subtotal, i.discount_total, i.tax_total, i.total, i.amount_paid, i.credited_total, i.version, i.created_at, i.updated_at,
  i.finalized_at, i.sent_at, i.last_sent_at, i.send_count, i.viewed_at, i.voided_at, i.void_reason, i.source_estimate_id, i.recurring_invoice_id`;

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function invoiceView(row: InvoiceWithLines, today = todayUtc()): InvoiceView {
  const total = BigInt(row.total);
  const credited = BigInt(row.credited_total);
  const paid = BigInt(row.amount_paid);
  return {
    id: row.id,
    number: row.number,
    status: row.status,
    displayStatus: displayStatus(row.status, row.due_date, today),
    overdue: isOverdue(row.status, row.due_date, today),
    customerId: row.customer_id,
    currency: row.currency,
    issueDate: row.issue_date,
    dueDate: row.due_date,
    notes: row.notes,
    terms: row.terms,
    lines: row.lines.map(lineView),
    discount: Number(row.discount),
    subtotal: Number(row.subtotal),
    discountTotal: Number(row.discount_total),
    taxTotal: Number(row.tax_total),
    total: Number(total),
    creditedTotal: Number(credited),
    amountPaid: Number(paid),
    balanceDue: Number(row.status === 'void' || row.status === 'draft' ? (row.status === 'void' ? 0n : total) : balanceDue(total, credited, paid)),
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    finalizedAt: iso(row.finalized_at),
    sentAt: iso(row.sent_at),
    lastSentAt: iso(row.last_sent_at),
    sendCount: row.send_count,
    viewedAt: iso(row.viewed_at),
    voidedAt: iso(row.voided_at),
    voidReason: row.void_reason,
    sourceEstimateId: row.source_estimate_id,
    recurringInvoiceId: row.recurring_invoice_id,
    ...(row.last_email !== undefined ? { lastEmail: row.last_email } : {}),
  };
}

/** Only queries: the rules live in InvoicesService. */
@Injectable()
export class InvoicesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One statement: the invoice and its lines, scoped by business. */
  async findWithLines(businessId: string, id: string, runner: Runner = this.dataSource): Promise<InvoiceWithLines | undefined> {
    const rows: InvoiceWithLines[] = await runner.query(`SELECT ${INVOICE_COLUMNS}, ${LINES_JSON}, ${LAST_EMAIL_JSON} FROM invoices i WHERE i.business_id = $1 AND i.id = $2`, [businessId, id]);
    return rows[0];
  }

  /**
   * The invoice with its lines and, in the same statement, a view event for the audit inbox
   * (written only when the invoice exists): the hot read path costs one round trip.
   */
  async findWithLinesLoggingView(businessId: string, id: string, event: AuditInput): Promise<InvoiceWithLines | undefined> {
    const params: unknown[] = [businessId, id];
    const values = inboxValues(event, params);
    const rows = await preparedQuery<InvoiceWithLines>(this.dataSource,
      `WITH found AS (SELECT ${INVOICE_COLUMNS}, ${LINES_JSON}, ${LAST_EMAIL_JSON} FROM invoices i WHERE i.business_id = $1 AND i.id = $2),
            logged AS (INSERT INTO audit_inbox ${inboxColumns()} SELECT ${values} WHERE EXISTS (SELECT 1 FROM found))
       SELECT * FROM found`,
      params,
    );
    return rows[0];
  }

  /** Locks the invoice row for the rest of the transaction (SELECT … FOR UPDATE). */
  async lock(tx: EntityManager, businessId: string, id: string): Promise<InvoiceRow | undefined> {
    const rows: InvoiceRow[] = await tx.query(`SELECT ${INVOICE_COLUMNS} FROM invoices i WHERE i.business_id = $1 AND i.id = $2 FOR UPDATE`, [businessId, id]);
    return rows[0];
  }

  async customerExists(runner: Runner, businessId: string, customerId: string): Promise<boolean> {
    const rows: unknown[] = await runner.query('SELECT 1 FROM customers WHERE business_id = $1 AND id = $2', [businessId, customerId]);
    return rows.length > 0;
  }

  async insert(
    tx: EntityManager,
    input: { businessId: string; customerId: string; createdBy: string; issueDate: string; dueDate: string; notes: string | null; terms: string | null; document: ComputedDocument; sourceEstimateId?: string | null },
  ): Promise<string> {
    const { document } = input;
    const [row]: Array<{ id: string }> = await tx.query(
      `INSERT INTO invoices (business_id, customer_id, currency, issue_date, due_date, notes, terms, discount, subtotal, discount_total, tax_total, total, created_by, source_estimate_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
      [
        input.businessId, input.customerId, document.currency, input.issueDate, input.dueDate, input.notes, input.terms,
        document.documentDiscount.toString(), document.subtotal.toString(), document.discountTotal.toString(), document.taxTotal.toString(), document.total.toString(),
        input.createdBy, input.sourceEstimateId ?? null,
      ],
    );
    await this.insertLines(tx, 'invoice', input.businessId, row.id, document);
    return row.id;
  }

  /** All lines of a document in one statement (up to 500), in order. */
  async insertLines(tx: EntityManager, kind: 'invoice' | 'estimate', businessId: string, documentId: string, document: ComputedDocument): Promise<void> {
    const column = (pick: (line: ComputedDocument['lines'][number], index: number) => string | number) => document.lines.map(pick);
    await tx.query(
      `INSERT INTO ${kind}_lines (${kind}_id, business_id, position, description, quantity, unit_price, tax_rate_bps, discount, subtotal, discount_total, tax, total)
       SELECT $1, $2, * FROM unnest($3::smallint[], $4::text[], $5::numeric[], $6::bigint[], $7::integer[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])`,
      [
        documentId, businessId,
        column((_line, index) => index),
        column((line) => line.description),
        column((line) => line.quantityText),
        column((line) => line.unitPrice.toString()),
        column((line) => line.taxRateBps),
        column((line) => (line.discount - line.documentDiscount).toString()),
        column((line) => line.subtotal.toString()),
        column((line) => line.discount.toString()),
        column((line) => line.tax.toString()),
        column((line) => line.total.toString()),
      ],
    );
  }

  async replaceLines(tx: EntityManager, businessId: string, invoiceId: string, document: ComputedDocument): Promise<void> {
    await queryRows(tx, 'DELETE FROM invoice_lines WHERE invoice_id = $1 AND business_id = $2', [invoiceId, businessId]);
    await this.insertLines(tx, 'invoice', businessId, invoiceId, document);
  }
}
