import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { addDays, isIsoDate, todayUtc } from '../common/dates.js';
import { assertVersion, versionFromIfMatch } from '../common/http/etag.js';
import { AppError, type FieldError } from '../common/errors/app-error.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { queryRows } from '../database/sql.js';
import { violates } from '../database/pg-errors.js';
import { cardNumberErrors, computeDocument, displayQuantity, throwIfErrors, type ComputedDocument, type LineBody } from './document-lines.js';
import { occurrencesBetween, validateSchedule, type RecurrenceSchedule, type RecurrenceUnit } from './recurrence.js';
import type { CreateRecurringInvoiceDto, ListRecurringInvoicesQueryDto, OccurrencesQueryDto, RecurringStatus, UpdateRecurringInvoiceDto } from './recurring-invoices.dto.js';

/** A template line as stored (jsonb) and shown: the canonical form of what the client sent. */
export interface TemplateLine {
  description: string;
  /** Canonical decimal: "2.5", "3" (never "2.50" or "2.5000"). */
  quantity: string;
  /** Integer minor units. */
  unitPrice: number;
  taxRateBps: number;
  /** The line's own discount in minor units (the document discount is kept apart). */
  discount: number;
}

export interface ScheduleView {
  every: number;
  unit: RecurrenceUnit;
  startDate: string;
  dayOfMonth: number | null;
  endDate: string | null;
  count: number | null;
}

export interface RecurringInvoiceView {
  id: string;
  customerId: string;
  currency: string;
  lines: TemplateLine[];
  discount: number;
  notes: string | null;
  terms: string | null;
  netDays: number;
  schedule: ScheduleView;
  autoSend: boolean;
  status: RecurringStatus;
  /** The first occurrence on or after today (UTC), or null when the schedule has ended. */
  nextOccurrence: string | null;
  /** The totals each generated invoice would have, computed now (never stored). */
  preview: { subtotal: number; discountTotal: number; taxTotal: number; total: number };
  version: number;
  createdAt: string;
  updatedAt: string;
}

interface RecurringRow {
  id: string;
  customer_id: string;
  currency: string;
  lines: TemplateLine[];
  discount: string;
  notes: string | null;
  terms: string | null;
  net_days: number;
  every: number;
  unit: RecurrenceUnit;
  day_of_month: number | null;
  start_date: string;
  end_date: string | null;
  count: number | null;
  auto_send: boolean;
  status: RecurringStatus;
  version: number;
  created_at: Date;
  updated_at: Date;
  /** created_at with microseconds, for the keyset cursor (a JS Date keeps only milliseconds). */
  cursor_at: string;
}

/** Everything a client can set on a template, before validation. */
interface TemplateInput {
  customerId: string;
  currency: string;
  lines: LineBody[];
  discount: string | number;
  notes: string | null;
  terms: string | null;
  /** null on create: the business's default_net_days (30 unless changed). */
  netDays: number | null;
  schedule: ScheduleView;
  autoSend: boolean;
}

interface ValidTemplate extends TemplateInput {
  lines: TemplateLine[];
  discount: number;
}

const COLUMNS = `id, customer_id, currency, lines, discount, notes, terms, net_days, every, unit, day_of_month, start_date, end_date, count,
  auto_send, status, version, created_at, updated_at, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;
const SORT = 'created_desc';
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
/** The longest range GET .../occurrences answers, in days between `from` and `to`. */
export const MAX_OCCURRENCE_RANGE_DAYS = 366;
/** count is an `integer` column. */
const MAX_COUNT = 2_147_483_647;
const MS_PER_DAY = 86_400_000;
const SCHEDULE_FIELDS = ['every', 'unit', 'startDate', 'dayOfMonth', 'endDate', 'count'] as const;
const TOP_FIELDS = ['customerId', 'currency', 'lines', 'discount', 'notes', 'terms', 'netDays', 'autoSend'] as const;

const notFound = (): AppError => AppError.notFound('recurring_invoice_not_found', 'No such recurring invoice.');
const customerNotFound = (): AppError =>
  new AppError(404, 'customer_not_found', 'No such customer in this business.', [{ field: 'customerId', code: 'customer_not_found', message: 'customerId is not a customer of this business' }]);

/** The schedule in the form the recurrence functions take (absent rather than null). */
export function recurrenceOf(schedule: ScheduleView): RecurrenceSchedule {
  const out: RecurrenceSchedule = { every: schedule.every, unit: schedule.unit, startDate: schedule.startDate };
  if (schedule.dayOfMonth !== null) out.dayOfMonth = schedule.dayOfMonth;
  if (schedule.endDate !== null) out.endDate = schedule.endDate;
  if (schedule.count !== null) out.count = schedule.count;
  return out;
}

function scheduleOf(row: RecurringRow): ScheduleView {
  return { every: row.every, unit: row.unit, startDate: row.start_date, dayOfMonth: row.day_of_month, endDate: row.end_date, count: row.count };
}

/** A line in canonical form with a fixed key order (jsonb reorders keys, so comparisons rebuild). */
function canonicalLine(line: TemplateLine): TemplateLine {
  return { description: line.description, quantity: line.quantity, unitPrice: Number(line.unitPrice), taxRateBps: line.taxRateBps, discount: Number(line.discount) };
}

/** The document a stored template produces (for previews now, and for each generated invoice later). */
export function templateDocument(template: { currency: string; lines: TemplateLine[]; discount: number | string }): ComputedDocument {
  return computeDocument({ currency: template.currency, lines: template.lines, discount: template.discount });
}

/** The first occurrence on or after `today`, or null when the schedule has ended. */
export function nextOccurrence(schedule: RecurrenceSchedule, today: string = todayUtc()): string | null {
  const from = schedule.startDate > today ? schedule.startDate : today;
  // Occurrences are at most 24 months (≤ 731 days) apart, and the first one is at most two
  // months after startDate, so this window holds the next occurrence whenever there is one.
  const until = addDays(from, 800);
  const to = /^\d{4}-/.test(until) ? until : '9999-12-31';
  return occurrencesBetween(schedule, from, to)[0] ?? null;
}

function dayNumber(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / MS_PER_DAY;
}

/**
 * Checks a whole template (schedule, free text, lines, currency, discount) and reports every
 * problem at once with its path: `schedule.every`, `notes`, `lines[2].quantity`, `currency`.
 */
function validateTemplate(input: TemplateInput): ValidTemplate {
  const errors: FieldError[] = [];
  const schedule = recurrenceOf(input.schedule);
  for (const problem of validateSchedule(schedule)) {
    errors.push({ field: `schedule.${problem.field}`, code: 'invalid_schedule', message: `schedule.${problem.message}` });
  }
  if (schedule.count !== undefined && schedule.count > MAX_COUNT && Number.isSafeInteger(schedule.count)) {
    errors.push({ field: 'schedule.count', code: 'invalid_schedule', message: `schedule.count must be at most ${MAX_COUNT}.` });
  }
  errors.push(...cardNumberErrors({ notes: input.notes, terms: input.terms }));
  let document: ComputedDocument | undefined;
  try {
    document = computeDocument({ currency: input.currency, lines: input.lines, discount: input.discount });
  } catch (error) {
    if (!(error instanceof AppError) || error.status !== 400 || !error.errors) throw error;
    errors.push(...error.errors);
  }
  throwIfErrors(errors);
  const computed = document as ComputedDocument;
  return {
    ...input,
    lines: computed.lines.map((line) => ({
      description: line.description,
      quantity: displayQuantity(line.quantityText),
      unitPrice: Number(line.unitPrice),
      taxRateBps: line.taxRateBps,
      // `discount` of a computed line includes its share of the document discount.
      discount: Number(line.discount - line.documentDiscount),
    })),
    discount: Number(computed.documentDiscount),
  };
}

function inputOf(row: RecurringRow): ValidTemplate {
  return {
    customerId: row.customer_id,
    currency: row.currency,
    lines: row.lines.map(canonicalLine),
    discount: Number(row.discount),
    notes: row.notes,
    terms: row.terms,
    netDays: row.net_days,
    schedule: scheduleOf(row),
    autoSend: row.auto_send,
  };
}

function view(row: RecurringRow, today: string = todayUtc()): RecurringInvoiceView {
  const template = inputOf(row);
  const document = templateDocument(template);
  return {
    id: row.id,
    customerId: row.customer_id,
    currency: row.currency,
    lines: template.lines,
    discount: template.discount,
    notes: row.notes,
    terms: row.terms,
    netDays: row.net_days,
    schedule: template.schedule,
    autoSend: row.auto_send,
    status: row.status,
    nextOccurrence: nextOccurrence(recurrenceOf(template.schedule), today),
    preview: { subtotal: Number(document.subtotal), discountTotal: Number(document.discountTotal), taxTotal: Number(document.taxTotal), total: Number(document.total) },
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** The names of the fields that differ, `schedule.<field>` for the schedule's. */
function changedFields(before: ValidTemplate, after: ValidTemplate): string[] {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const top = TOP_FIELDS.filter((field) => !same(before[field], after[field]));
  const schedule = SCHEDULE_FIELDS.filter((field) => !same(before.schedule[field], after.schedule[field])).map((field) => `schedule.${field}`);
  return [...top, ...schedule];
}

/**
 * Recurring invoice templates: a customer, lines and a currency with a schedule. The invoices
 * themselves are generated by a job; this is the model and its API. Every query is scoped by
 * the caller's business, so another business's template answers 404 and is never changed.
 */
@Injectable()
export class RecurringInvoicesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async create(principal: Principal, body: CreateRecurringInvoiceDto, meta: RequestMeta): Promise<RecurringInvoiceView> {
    const template = validateTemplate({
      customerId: body.customerId,
      currency: body.currency,
      lines: body.lines,
      discount: body.discount ?? 0,
      notes: body.notes ?? null,
      terms: body.terms ?? null,
      netDays: body.netDays ?? null,
      schedule: {
        every: body.schedule.every,
        unit: body.schedule.unit as RecurrenceUnit,
        startDate: body.schedule.startDate,
        dayOfMonth: body.schedule.dayOfMonth ?? null,
        endDate: body.schedule.endDate ?? null,
        count: body.schedule.count ?? null,
      },
      autoSend: body.autoSend ?? false,
    });
    const row = await this.mapCustomerViolation(() =>
      this.dataSource.transaction(async (tx) => {
        await this.assertCustomer(tx, principal.businessId, template.customerId);
        const [created]: RecurringRow[] = await tx.query(
          `INSERT INTO recurring_invoices
             (business_id, customer_id, currency, lines, discount, notes, terms, net_days, every, unit, day_of_month, start_date, end_date, count, auto_send, created_by)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, coalesce($8, (SELECT default_net_days FROM businesses WHERE id = $1)), $9, $10, $11, $12, $13, $14, $15, $16)
           RETURNING ${COLUMNS}`,
          [
            principal.businessId,
            template.customerId,
            template.currency,
            JSON.stringify(template.lines),
            String(template.discount),
            template.notes,
            template.terms,
            template.netDays,
            ...this.scheduleParameters(template.schedule),
            template.autoSend,
            principal.userId,
          ],
        );
        await this.audit.record(
          {
            businessId: principal.businessId,
            actor: { type: 'user', id: principal.userId },
            action: 'recurring_invoice.created',
            entity: { type: 'recurring_invoice', id: created.id },
            detail: { customerId: created.customer_id, every: created.every, unit: created.unit, autoSend: created.auto_send },
            ...meta,
          },
          tx,
        );
        return created;
      }),
    );
    return view(row);
  }

  async list(businessId: string, query: ListRecurringInvoicesQueryDto): Promise<Page<RecurringInvoiceView>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const conditions = ['business_id = $1'];
    const parameters: unknown[] = [businessId];
    if (query.status) {
      parameters.push(query.status);
      conditions.push(`status = $${parameters.length}`);
    }
    if (query.cursor !== undefined) {
      const [at, id] = decodeCursor(query.cursor, SORT, 2);
      // A cursor is opaque but not trusted: a forged one must be a 400, never a SQL error.
      const valid = CURSOR_TIME.test(at) && !Number.isNaN(Date.parse(at)) && new Date(Date.parse(at)).toISOString().slice(0, 19) === at.slice(0, 19) && UUID_SHAPE.test(id);
      if (!valid) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not a cursor returned by this list with this sort' }]);
      parameters.push(at, id);
      conditions.push(`(created_at, id) < ($${parameters.length - 1}::timestamptz, $${parameters.length}::uuid)`);
    }
    parameters.push(limit + 1);
    const rows: RecurringRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM recurring_invoices WHERE ${conditions.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${parameters.length}`,
      parameters,
    );
    const today = todayUtc();
    return toPage(rows, limit, SORT, (row) => [row.cursor_at, row.id], (row) => view(row, today));
  }

  async get(businessId: string, id: string): Promise<RecurringInvoiceView> {
    return view(await this.find(this.dataSource, businessId, id));
  }

  async occurrences(businessId: string, id: string, query: OccurrencesQueryDto): Promise<{ data: string[] }> {
    const row = await this.find(this.dataSource, businessId, id);
    const errors: FieldError[] = [];
    for (const field of ['from', 'to'] as const) {
      const value = query[field];
      if (value === undefined) errors.push({ field, code: 'required', message: `${field} is required, as YYYY-MM-DD` });
      else if (!isIsoDate(value)) errors.push({ field, code: 'invalid_date', message: `${field} must be a real date as YYYY-MM-DD` });
    }
    throwIfErrors(errors);
    const from = query.from as string;
    const to = query.to as string;
    const days = dayNumber(to) - dayNumber(from);
    if (days < 0) throw AppError.validation([{ field: 'to', code: 'range_inverted', message: 'to must not be before from' }]);
    if (days > MAX_OCCURRENCE_RANGE_DAYS) {
      throw AppError.validation([{ field: 'to', code: 'range_too_long', message: `to must be at most ${MAX_OCCURRENCE_RANGE_DAYS} days after from` }]);
    }
    return { data: occurrencesBetween(recurrenceOf(scheduleOf(row)), from, to) };
  }

  /**
   * A partial update under If-Match. Fields absent from the body keep their values; `lines`
   * replaces every line; `schedule` is merged field by field (null removes dayOfMonth, endDate
   * or count). The merged template is validated as a whole. A change that changes nothing
   * keeps the version and writes no audit event.
   */
  async update(principal: Principal, id: string, body: UpdateRecurringInvoiceDto, ifMatch: string | string[] | undefined, meta: RequestMeta): Promise<RecurringInvoiceView> {
    const row = await this.mapCustomerViolation(() =>
      this.dataSource.transaction(async (tx) => {
        const current = await this.find(tx, principal.businessId, id, true);
        assertVersion(versionFromIfMatch(ifMatch), current.version);
        const before = inputOf(current);
        const patch = body.schedule ?? {};
        const schedule: ScheduleView = { ...before.schedule };
        if (patch.every !== undefined) schedule.every = patch.every;
        if (patch.unit !== undefined) schedule.unit = patch.unit as RecurrenceUnit;
        if (patch.startDate !== undefined) schedule.startDate = patch.startDate;
        if (patch.dayOfMonth !== undefined) schedule.dayOfMonth = patch.dayOfMonth;
        if (patch.endDate !== undefined) schedule.endDate = patch.endDate;
        if (patch.count !== undefined) schedule.count = patch.count;
        const after = validateTemplate({
          customerId: body.customerId ?? before.customerId,
          currency: body.currency ?? before.currency,
          lines: body.lines ?? before.lines,
          discount: body.discount ?? before.discount,
          notes: body.notes !== undefined ? body.notes : before.notes,
          terms: body.terms !== undefined ? body.terms : before.terms,
          netDays: body.netDays ?? before.netDays,
          schedule,
          autoSend: body.autoSend ?? before.autoSend,
        });
        const changed = changedFields(before, after);
        if (changed.length === 0) return current;
        if (after.customerId !== before.customerId) await this.assertCustomer(tx, principal.businessId, after.customerId);
        const [updated] = await queryRows<RecurringRow>(
          tx,
          `UPDATE recurring_invoices
              SET customer_id = $3, currency = $4, lines = $5::jsonb, discount = $6, notes = $7, terms = $8, net_days = $9,
                  every = $10, unit = $11, day_of_month = $12, start_date = $13, end_date = $14, count = $15, auto_send = $16,
                  version = version + 1, updated_at = now()
            WHERE business_id = $1 AND id = $2
            RETURNING ${COLUMNS}`,
          [
            principal.businessId,
            id,
            after.customerId,
            after.currency,
            JSON.stringify(after.lines),
            String(after.discount),
            after.notes,
            after.terms,
            after.netDays,
            ...this.scheduleParameters(after.schedule),
            after.autoSend,
          ],
        );
        await this.audit.record(
          {
            businessId: principal.businessId,
            actor: { type: 'user', id: principal.userId },
            action: 'recurring_invoice.updated',
            entity: { type: 'recurring_invoice', id },
            detail: { fields: changed, version: updated.version },
            ...meta,
          },
          tx,
        );
        return updated;
      }),
    );
    return view(row);
  }

  /** Pause or resume. Idempotent: asking for the current status changes nothing. */
  async setStatus(principal: Principal, id: string, status: RecurringStatus, meta: RequestMeta): Promise<RecurringInvoiceView> {
    const row = await this.dataSource.transaction(async (tx) => {
      const current = await this.find(tx, principal.businessId, id, true);
      if (current.status === status) return current;
      const [updated] = await queryRows<RecurringRow>(
        tx,
        `UPDATE recurring_invoices SET status = $3, version = version + 1, updated_at = now() WHERE business_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [principal.businessId, id, status],
      );
      await this.audit.record(
        {
          businessId: principal.businessId,
          actor: { type: 'user', id: principal.userId },
          action: status === 'paused' ? 'recurring_invoice.paused' : 'recurring_invoice.resumed',
          entity: { type: 'recurring_invoice', id },
          detail: { version: updated.version },
          ...meta,
        },
        tx,
      );
      return updated;
    });
    return view(row);
  }

  /** Only a template nothing was generated from can go; otherwise it is kept for the invoices' sake. */
  async remove(principal: Principal, id: string, meta: RequestMeta): Promise<void> {
    const hasInvoices = (): AppError =>
      AppError.conflict('recurring_invoice_has_invoices', 'Invoices were generated from this recurring invoice, so it cannot be deleted: pause it instead.');
    try {
      await this.dataSource.transaction(async (tx) => {
        const current = await this.find(tx, principal.businessId, id, true);
        const generated: unknown[] = await tx.query('SELECT 1 FROM invoices WHERE business_id = $1 AND recurring_invoice_id = $2 LIMIT 1', [principal.businessId, id]);
        if (generated.length > 0) throw hasInvoices();
        await queryRows(tx, 'DELETE FROM recurring_invoices WHERE business_id = $1 AND id = $2', [principal.businessId, id]);
        await this.audit.record(
          {
            businessId: principal.businessId,
            actor: { type: 'user', id: principal.userId },
            action: 'recurring_invoice.deleted',
            entity: { type: 'recurring_invoice', id },
            detail: { customerId: current.customer_id, status: current.status, version: current.version },
            ...meta,
          },
          tx,
        );
      });
    } catch (error) {
      if (violates(error, 'invoices_recurring_fkey')) throw hasInvoices();
      throw error;
    }
  }

  private scheduleParameters(schedule: ScheduleView): unknown[] {
    return [schedule.every, schedule.unit, schedule.dayOfMonth, schedule.startDate, schedule.endDate, schedule.count];
  }

  private async find(runner: DataSource | EntityManager, businessId: string, id: string, lock = false): Promise<RecurringRow> {
    const rows: RecurringRow[] = await runner.query(`SELECT ${COLUMNS} FROM recurring_invoices WHERE business_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`, [businessId, id]);
    if (rows.length === 0) throw notFound();
    return rows[0];
  }

  private async assertCustomer(tx: EntityManager, businessId: string, customerId: string): Promise<void> {
    const rows: unknown[] = await tx.query('SELECT 1 FROM customers WHERE business_id = $1 AND id = $2 FOR KEY SHARE', [businessId, customerId]);
    if (rows.length === 0) throw customerNotFound();
  }

  /** The composite foreign key is the last word: a customer deleted meanwhile is still a 404. */
  private async mapCustomerViolation<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (violates(error, 'recurring_invoices_customer_fkey')) throw customerNotFound();
      throw error;
    }
  }
}
