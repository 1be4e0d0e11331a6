import type { DataSource, EntityManager } from 'typeorm';
import { todayUtc } from '../common/dates.js';
import { queryRows } from '../database/sql.js';
import { lineView, type ComputedDocument, type StoredLine } from './document-lines.js';
import { effectiveStatus } from './estimate-status.js';
import type { EstimateStatus, EstimateView } from './estimate-view.js';
import type { InvoicesRepository } from './invoices.repository.js';

type Runner = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

/** The columns of an estimate row as node-postgres returns them (bigint as string, date as text). */
export interface EstimateRow {
  id: string;
  business_id: string;
  customer_id: string;
  status: EstimateStatus;
  number: string | null;
  currency: string;
  issue_date: string;
  expiry_date: string;
  notes: string | null;
  terms: string | null;
  discount: string;
  subtotal: string;
  discount_total: string;
  tax_total: string;
  total: string;
  version: number;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
  last_sent_at: Date | null;
  send_count: number;
  viewed_at: Date | null;
  accepted_at: Date | null;
  declined_at: Date | null;
  converted_at: Date | null;
  /** From invoices.source_estimate_id (UNIQUE): the invoice this estimate became. */
  converted_invoice_id: string | null;
  /** created_at with microseconds, for the keyset cursor (a JS Date keeps only milliseconds). */
  cursor_at: string;
}

export interface EstimateWithLines extends EstimateRow {
  lines: StoredLine[];
}

/** An estimate in a list: no lines, notes or terms. */
export type EstimateSummary = Omit<EstimateView, 'lines' | 'notes' | 'terms'>;

export interface EstimateFilters {
  status?: EstimateStatus;
  customerId?: string;
  /** Rows strictly after this (created_at, id) key, newest first. */
  after?: { createdAt: string; id: string };
}

const COLUMNS = `e.id, e.business_id, e.customer_id, e.status, e.number, e.currency, e.issue_date, e.expiry_date, e.notes, e.terms,
  e.discount, e.subtotal, e.discount_total, e.tax_total, e.total, e.version, e.created_at, e.updated_at, e.sent_at, e.last_sent_at,
  e.send_count, e.viewed_at, e.accepted_at, e.declined_at, e.converted_at,
  (SELECT inv.id FROM invoices inv WHERE inv.source_estimate_id = e.id AND inv.business_id = e.business_id) AS converted_invoice_id,
  to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

// The stored line minus its keys, with the quantity as exact text, in position order.
const LINES = `(SELECT coalesce(json_agg(((to_jsonb(l) - 'estimate_id' - 'business_id' - 'position') || jsonb_build_object('quantity', l.quantity::text)) ORDER BY l.position), '[]'::json)
    FROM estimate_lines l WHERE l.estimate_id = e.id) AS lines`;

export const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

const isoOrNull = (value: Date | null): string | null => value?.toISOString() ?? null;

export function estimateView(row: EstimateWithLines, today = todayUtc()): EstimateView {
  return {
    id: row.id,
    number: row.number,
    status: effectiveStatus(row.status, row.expiry_date, today),
    customerId: row.customer_id,
    currency: row.currency,
    issueDate: row.issue_date,
    expiryDate: row.expiry_date,
    total: Number(row.total),
    subtotal: Number(row.subtotal),
    taxTotal: Number(row.tax_total),
    discount: Number(row.discount),
    discountTotal: Number(row.discount_total),
    lines: row.lines.map(lineView),
    notes: row.notes,
    terms: row.terms,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    sentAt: isoOrNull(row.sent_at),
    lastSentAt: isoOrNull(row.last_sent_at),
    sendCount: row.send_count,
    viewedAt: isoOrNull(row.viewed_at),
    acceptedAt: isoOrNull(row.accepted_at),
    declinedAt: isoOrNull(row.declined_at),
    convertedAt: isoOrNull(row.converted_at),
    convertedInvoiceId: row.converted_invoice_id,
  };
}

export function estimateSummary(row: EstimateRow, today = todayUtc()): EstimateSummary {
  const { lines: _lines, notes: _notes, terms: _terms, ...summary } = estimateView({ ...row, lines: [] }, today);
  return summary;
}

/**
 * Only queries: the rules live in EstimatesService. Not a Nest provider (the module's provider
 * list is fixed); the service builds one around its DataSource and the invoice repository,
 * whose line insert already writes `estimate_lines`.
 */
export class EstimatesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly invoices: InvoicesRepository,
  ) {}

  /** One statement: the estimate and its lines, scoped by business. */
  async find(businessId: string, id: string, runner: Runner = this.dataSource): Promise<EstimateWithLines | undefined> {
    const rows: EstimateWithLines[] = await runner.query(`SELECT ${COLUMNS}, ${LINES} FROM estimates e WHERE e.business_id = $1 AND e.id = $2`, [businessId, id]);
    return rows[0];
  }

  /** Locks the estimate row for the rest of the transaction (SELECT … FOR UPDATE). */
  async lock(tx: EntityManager, businessId: string, id: string): Promise<EstimateRow | undefined> {
    const rows: EstimateRow[] = await tx.query(`SELECT ${COLUMNS} FROM estimates e WHERE e.business_id = $1 AND e.id = $2 FOR UPDATE OF e`, [businessId, id]);
    return rows[0];
  }

  /** A page (plus one row) newest first. `today` decides which sent estimates count as expired. */
  async list(businessId: string, filters: EstimateFilters, today: string, limit: number): Promise<EstimateRow[]> {
    const params: unknown[] = [businessId];
    const where = ['e.business_id = $1'];
    const bind = (value: unknown): string => `$${params.push(value)}`;
    if (filters.status === 'expired') where.push(`(e.status = 'expired' OR (e.status = 'sent' AND e.expiry_date < ${bind(today)}::date))`);
    else if (filters.status === 'sent') where.push(`e.status = 'sent' AND e.expiry_date >= ${bind(today)}::date`);
    else if (filters.status) where.push(`e.status = ${bind(filters.status)}`);
    if (filters.customerId) where.push(`e.customer_id = ${bind(filters.customerId)}`);
    if (filters.after) where.push(`(e.created_at, e.id) < (${bind(filters.after.createdAt)}::timestamptz, ${bind(filters.after.id)}::uuid)`);
    return this.dataSource.query(`SELECT ${COLUMNS} FROM estimates e WHERE ${where.join(' AND ')} ORDER BY e.created_at DESC, e.id DESC LIMIT ${limit + 1}`, params);
  }

  async insert(
    tx: EntityManager,
    input: { businessId: string; customerId: string; createdBy: string; issueDate: string; expiryDate: string; notes: string | null; terms: string | null; document: ComputedDocument },
  ): Promise<string> {
    const { document: doc } = input;
    const [row]: Array<{ id: string }> = await tx.query(
      `INSERT INTO estimates (business_id, customer_id, created_by, currency, issue_date, expiry_date, notes, terms, discount, subtotal, discount_total, tax_total, total)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
      [
        input.businessId, input.customerId, input.createdBy, doc.currency, input.issueDate, input.expiryDate, input.notes, input.terms,
        ...[doc.documentDiscount, doc.subtotal, doc.discountTotal, doc.taxTotal, doc.total].map(String),
      ],
    );
    await this.invoices.insertLines(tx, 'estimate', input.businessId, row.id, doc);
    return row.id;
  }

  /**
   * Sets columns of one estimate: `values` are bound parameters (column names are code constants,
   * never input); `expressions` are SQL assignments such as `version = version + 1`.
   */
  async update(tx: EntityManager, businessId: string, id: string, values: Record<string, unknown>, expressions: string[] = []): Promise<void> {
    const params: unknown[] = [businessId, id];
    const assignments = [...Object.entries(values).map(([column, value]) => `${column} = $${params.push(value)}`), ...expressions];
    if (assignments.length === 0) return;
    await queryRows(tx, `UPDATE estimates SET ${assignments.join(', ')} WHERE business_id = $1 AND id = $2`, params);
  }

  async replaceLines(tx: EntityManager, businessId: string, id: string, doc: ComputedDocument): Promise<void> {
    await queryRows(tx, 'DELETE FROM estimate_lines WHERE business_id = $1 AND estimate_id = $2', [businessId, id]);
    await this.invoices.insertLines(tx, 'estimate', businessId, id, doc);
  }

  async delete(tx: EntityManager, businessId: string, id: string): Promise<void> {
    await queryRows(tx, 'DELETE FROM estimates WHERE business_id = $1 AND id = $2', [businessId, id]);
  }

  /** Who an estimate email goes to, and from which business. */
  async recipient(tx: EntityManager, businessId: string, estimateId: string): Promise<{ email: string | null; name: string; business_name: string } | undefined> {
    const rows: Array<{ email: string | null; name: string; business_name: string }> = await tx.query(
      `SELECT c.email, c.name, b.name AS business_name
         FROM estimates e JOIN customers c ON c.business_id = e.business_id AND c.id = e.customer_id JOIN businesses b ON b.id = e.business_id
        WHERE e.business_id = $1 AND e.id = $2`,
      [businessId, estimateId],
    );
    return rows[0];
  }

  /** The first open by the customer sets viewed_at; later opens change nothing. */
  async markViewed(businessId: string, id: string): Promise<void> {
    await queryRows(this.dataSource, 'UPDATE estimates SET viewed_at = now() WHERE business_id = $1 AND id = $2 AND viewed_at IS NULL', [businessId, id]);
  }
}
