import { Inject, Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { addDays, todayUtc } from '../common/dates.js';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { violates } from '../database/pg-errors.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import { ScheduleRuns } from '../jobs/schedule-runs.js';
import { InvoicesRepository } from './invoices.repository.js';
import { InvoicesService } from './invoices.service.js';
import { occurrencesBetween, periodKey, type RecurrenceUnit } from './recurrence.js';
import { recurrenceOf, templateDocument, type TemplateLine } from './recurring-invoices.service.js';

/** After a long outage, at most this far back is caught up (each missed period once). */
export const MAX_CATCH_UP_DAYS = 366;
const TEMPLATE_BATCH = 200;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

interface TemplateScheduleRow {
  id: string;
  business_id: string;
  status: 'active' | 'paused';
  every: number;
  unit: RecurrenceUnit;
  day_of_month: number | null;
  start_date: string;
  end_date: string | null;
  count: number | null;
  created_on: string;
  paused_through: string | null;
}

interface TemplateRow extends TemplateScheduleRow {
  customer_id: string;
  currency: string;
  lines: TemplateLine[];
  discount: string;
  notes: string | null;
  terms: string | null;
  net_days: number;
  auto_send: boolean;
  created_by: string | null;
  closed_at: Date | null;
}

const scheduleOf = (row: TemplateScheduleRow) =>
  recurrenceOf({ every: row.every, unit: row.unit, startDate: row.start_date, dayOfMonth: row.day_of_month, endDate: row.end_date, count: row.count });

/**
 * Generates the invoices of recurring templates. Hourly (worker role only), under an advisory
 * lock, every due occurrence of an active template that has no invoice yet gets a job with the
 * deterministic id `recurring.<template>.<period>.<hour>`; the job creates the invoice through the
 * invoices module (InvoicesRepository.insert) in one transaction with its
 * (recurring_invoice_id, recurring_period), which `invoices_recurring_period_key` makes unique,
 * and sends it with InvoicesService.send when autoSend is on, at most once.
 *
 * Missed periods (downtime) are caught up: every occurrence since the template was created (at
 * most MAX_CATCH_UP_DAYS back) without an invoice is due, each exactly once. Periods that passed
 * while the template was paused are not: the schedule records the days it saw it paused.
 */
@Injectable()
export class RecurringGeneration {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: InvoicesRepository,
    private readonly invoices: InvoicesService,
    private readonly jobs: JobsService,
    private readonly runs: ScheduleRuns,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  // Hourly, at :05 (off the hour other hourly work favours): occurrences are UTC calendar
  // dates, so an invoice is generated within the first hour of its day, and within an hour of
  // a restart after downtime. An idle run is one keyset pass over the templates.
  @Cron('0 5 * * * *', { name: 'recurring.scan' })
  async scan(now?: Date): Promise<number | undefined> {
    const at = now instanceof Date ? now : new Date();
    return this.runs.run('recurring.scan', () => this.queueDue(at));
  }

  /** Queues a job for every due occurrence without an invoice; the number queued. */
  async queueDue(now: Date): Promise<number> {
    const today = todayUtc(now);
    const earliest = addDays(today, -MAX_CATCH_UP_DAYS);
    const hour = now.toISOString().slice(0, 13).replace(/\D/g, '');
    let queued = 0;
    let after = NIL_UUID;
    for (;;) {
      const rows: TemplateScheduleRow[] = await this.dataSource.query(
        `SELECT r.id, r.business_id, r.status, r.every, r.unit, r.day_of_month, r.start_date::text AS start_date, r.end_date::text AS end_date, r.count,
                (r.created_at AT TIME ZONE 'UTC')::date::text AS created_on, g.paused_through::text AS paused_through
           FROM recurring_invoices r
           JOIN businesses b ON b.id = r.business_id
           LEFT JOIN recurring_generation_state g ON g.recurring_invoice_id = r.id
          WHERE r.id > $1 AND b.closed_at IS NULL
          ORDER BY r.id LIMIT ${TEMPLATE_BATCH}`,
        [after],
      );
      // A paused template: remember that it was paused today, so resuming does not catch up.
      const paused = rows.filter((row) => row.status === 'paused' && row.paused_through !== today);
      if (paused.length) {
        await this.dataSource.query(
          `INSERT INTO recurring_generation_state (recurring_invoice_id, business_id, paused_through)
           SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS t(id, business_id), LATERAL (SELECT $3::date) d
           ON CONFLICT (recurring_invoice_id) DO UPDATE SET paused_through = excluded.paused_through, updated_at = now()`,
          [paused.map((row) => row.id), paused.map((row) => row.business_id), today],
        );
      }
      const due: Array<{ templateId: string; occurrence: string; period: string }> = [];
      for (const row of rows.filter((candidate) => candidate.status === 'active')) {
        const from = [row.start_date, row.created_on, earliest, row.paused_through ? addDays(row.paused_through, 1) : '0001-01-01'].reduce((a, b) => (a > b ? a : b));
        if (from > today) continue;
        try {
          const schedule = scheduleOf(row);
          for (const occurrence of occurrencesBetween(schedule, from, today)) due.push({ templateId: row.id, occurrence, period: periodKey(schedule, occurrence) });
        } catch (error) {
          this.logger.warn({ recurringInvoiceId: row.id, err: { message: (error as Error).message } }, 'recurring template has an invalid schedule; skipped');
        }
      }
      if (due.length) {
        const existing: Array<{ recurring_invoice_id: string; recurring_period: string }> = await this.dataSource.query(
          `SELECT i.recurring_invoice_id, i.recurring_period FROM invoices i
             JOIN unnest($1::uuid[], $2::text[]) AS d(template_id, period) ON i.recurring_invoice_id = d.template_id AND i.recurring_period = d.period`,
          [due.map((item) => item.templateId), due.map((item) => item.period)],
        );
        const done = new Set(existing.map((row) => `${row.recurring_invoice_id}/${row.recurring_period}`));
        const missing = due.filter((item) => !done.has(`${item.templateId}/${item.period}`));
        // The id names the template, the period and the hour: runs within an hour queue nothing
        // new, and a job that failed for good is queued again by the next hour's run.
        await this.jobs.dispatchMany(
          'recurring.generate',
          missing.map((item) => ({ payload: { recurringInvoiceId: item.templateId, occurrence: item.occurrence }, jobId: `recurring.${item.templateId}.${item.period}.${hour}` })),
        );
        queued += missing.length;
      }
      if (rows.length < TEMPLATE_BATCH) return queued;
      after = rows[rows.length - 1].id;
    }
  }

  @JobHandler('recurring.generate', { onFinalFailure: 'recordFailure' })
  async generate(payload: { recurringInvoiceId: string; occurrence: string }): Promise<void> {
    const generated = await this.createInvoice(payload).catch(async (error: unknown) => {
      // Another job created this period's invoice between our check and our write: that is the one.
      if (!violates(error, 'invoices_recurring_period_key')) throw error;
      return this.createInvoice(payload);
    });
    if (generated?.autoSend) await this.sendOnce(generated);
  }

  /** Attempts spent: the business sees it in its audit log, operators in the error log. */
  async recordFailure(payload: { recurringInvoiceId: string; occurrence: string }, error: Error): Promise<void> {
    this.logger.error({ recurringInvoiceId: payload.recurringInvoiceId, occurrence: payload.occurrence, err: error }, 'recurring invoice could not be generated');
    const [template]: Array<{ business_id: string }> = await this.dataSource.query('SELECT business_id FROM recurring_invoices WHERE id = $1', [payload.recurringInvoiceId]);
    if (!template) return;
    await this.audit.record({
      businessId: template.business_id,
      actor: { type: 'system' },
      action: 'recurring_invoice.generation_failed',
      entity: { type: 'recurring_invoice', id: payload.recurringInvoiceId },
      detail: { occurrence: payload.occurrence },
    });
  }

  /** The invoice of one occurrence: found, or created now. Undefined when the template no longer wants it. */
  private async createInvoice(payload: { recurringInvoiceId: string; occurrence: string }): Promise<{ invoiceId: string; businessId: string; templateId: string; actorId: string; autoSend: boolean } | undefined> {
    return this.dataSource.transaction(async (tx) => {
      // The template row lock serialises every job of this template. NO KEY UPDATE, not UPDATE:
      // InvoicesService.send's updates of a generated invoice check its foreign key to the
      // template with KEY SHARE, which FOR UPDATE would block (see sendOnce).
      const [template]: TemplateRow[] = await tx.query(
        `SELECT r.id, r.business_id, r.status, r.every, r.unit, r.day_of_month, r.start_date::text AS start_date, r.end_date::text AS end_date, r.count,
                (r.created_at AT TIME ZONE 'UTC')::date::text AS created_on, NULL AS paused_through,
                r.customer_id, r.currency, r.lines, r.discount, r.notes, r.terms, r.net_days, r.auto_send, r.created_by, b.closed_at
           FROM recurring_invoices r JOIN businesses b ON b.id = r.business_id WHERE r.id = $1 FOR NO KEY UPDATE OF r`,
        [payload.recurringInvoiceId],
      );
      if (!template || template.status !== 'active' || template.closed_at || payload.occurrence > todayUtc()) return undefined;
      let period: string;
      try {
        period = periodKey(scheduleOf(template), payload.occurrence);
      } catch {
        return undefined; // the schedule changed: this date is no occurrence any more
      }
      const actorId = template.created_by ?? (await this.anAdmin(tx, template.business_id));
      const result = { businessId: template.business_id, templateId: template.id, actorId, autoSend: template.auto_send };
      const [existing]: Array<{ id: string }> = await tx.query('SELECT id FROM invoices WHERE recurring_invoice_id = $1 AND recurring_period = $2', [template.id, period]);
      if (existing) return { ...result, invoiceId: existing.id };
      const document = templateDocument({ currency: template.currency, lines: template.lines, discount: template.discount });
      const invoiceId = await this.repository.insert(tx, {
        businessId: template.business_id,
        customerId: template.customer_id,
        createdBy: actorId,
        issueDate: payload.occurrence,
        dueDate: addDays(payload.occurrence, template.net_days),
        notes: template.notes,
        terms: template.terms,
        document,
      });
      await tx.query('UPDATE invoices SET recurring_invoice_id = $3, recurring_period = $4 WHERE business_id = $1 AND id = $2', [template.business_id, invoiceId, template.id, period]);
      await this.audit.record(
        {
          businessId: template.business_id,
          actor: { type: 'system' },
          action: 'invoice.created',
          entity: { type: 'invoice', id: invoiceId },
          detail: { recurringInvoiceId: template.id, period, occurrence: payload.occurrence, currency: document.currency, total: Number(document.total) },
        },
        tx,
      );
      this.logger.info({ recurringInvoiceId: template.id, invoiceId, period }, 'recurring invoice generated');
      return { ...result, invoiceId };
    });
  }

  /**
   * Sends a generated invoice unless it has been sent: the check and the send happen while this
   * transaction holds the template row, so two jobs cannot both see "not sent" and both send.
   * InvoicesService.send runs its own transaction on another connection; its second update of
   * the invoice re-checks the invoice's foreign key to the template (KEY SHARE on this row),
   * which FOR NO KEY UPDATE allows and FOR UPDATE would deadlock.
   */
  private async sendOnce(generated: { invoiceId: string; businessId: string; templateId: string; actorId: string }): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM recurring_invoices WHERE id = $1 FOR NO KEY UPDATE', [generated.templateId]);
      const [invoice]: Array<{ status: string; send_count: number }> = await tx.query('SELECT status, send_count FROM invoices WHERE business_id = $1 AND id = $2', [generated.businessId, generated.invoiceId]);
      if (!invoice || invoice.send_count > 0 || invoice.status === 'void' || invoice.status === 'paid') return;
      try {
        await this.invoices.send(systemPrincipal(generated.businessId, generated.actorId), generated.invoiceId, { ip: null, userAgent: null });
      } catch (error) {
        // A refusal (no customer email, say) will not change by retrying: the draft waits for a person.
        if (error instanceof AppError && error.status < 500) {
          this.logger.warn({ invoiceId: generated.invoiceId, code: error.code }, 'generated invoice not sent automatically');
          return;
        }
        throw error;
      }
    });
  }

  private async anAdmin(tx: EntityManager, businessId: string): Promise<string> {
    const [admin]: Array<{ user_id: string }> = await tx.query(`SELECT user_id FROM memberships WHERE business_id = $1 AND role = 'admin' ORDER BY created_at LIMIT 1`, [businessId]);
    if (!admin) throw new Error(`business ${businessId} has no admin to attribute the generated invoice to`);
    return admin.user_id;
  }
}

/**
 * The principal InvoicesService.send records for an automatic send: the template's creator (who
 * turned autoSend on), acting through the scheduler. It never reaches the HTTP guard.
 */
function systemPrincipal(businessId: string, userId: string): Principal {
  return { userId, businessId, role: 'admin', sessionId: 'recurring-generation', client: 'web', via: 'bearer', mfaEnabled: true, mfaRequired: false };
}
