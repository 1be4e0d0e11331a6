import { Inject, Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { addDays } from '../common/dates.js';
import { AppError, type FieldError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { formatMoney } from '../common/money/money.js';
import { decodeCursor, DEFAULT_LIMIT, encodeCursor, UUID_SHAPE } from '../common/pagination/cursor.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { balanceDue } from '../invoices/invoice-status.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import { ScheduleRuns } from '../jobs/schedule-runs.js';
import { documentLink } from '../links/link-signing.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { SuppressionsService } from '../notifications/suppressions.service.js';
import { templates } from '../notifications/templates.js';
import {
  CATCH_UP_DAYS,
  DEFAULT_SEND_HOUR,
  DEFAULT_STAGES,
  dueStage,
  isValidTimeZone,
  localClock,
  normaliseStages,
  stageMoment,
  UPCOMING_DAYS,
  type ReminderSchedule,
} from './reminder-schedule.js';
import type { UpcomingRemindersQuery, UpdateReminderSettingsDto } from './reminders.dto.js';

export interface ReminderSettingsView {
  enabled: boolean;
  stages: number[];
  sendHour: number;
  timeZone: string;
}

export interface UpcomingReminder {
  invoiceId: string;
  invoiceNumber: string | null;
  customerId: string;
  customerName: string;
  /** Days from the due date. */
  stage: number;
  stageDate: string;
  /** When it goes out (the business-local send hour on stageDate); in the past = at the next scan. */
  scheduledFor: string;
  dueDate: string;
  balanceDue: number;
  currency: string;
  /** Why it will not go out, if it will not: the customer has no email address, or it is suppressed. */
  blockedBy: 'no_email' | 'suppressed' | null;
}

export interface UpcomingReminders {
  enabled: boolean;
  timeZone: string;
  sendHour: number;
  data: UpcomingReminder[];
  nextCursor: string | null;
}

interface BusinessSchedule {
  id: string;
  time_zone: string;
  enabled: boolean;
  stages: number[];
  send_hour: number;
}

const BUSINESS_BATCH = 200;
const INVOICE_BATCH = 1000;
const UPCOMING_SORT = 'stage_date';
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * Overdue reminders. Every 15 minutes a schedule (worker role only) finds, per business, the
 * open invoices whose reminder stage is due (reminder-schedule.ts) and queues one job per
 * invoice and stage with a deterministic id; the job writes the `invoice_reminders` row (unique
 * per invoice and stage) and the email in one transaction. So a second scheduler, a second
 * worker or a retried job never sends a reminder twice, and a paid, void or suppressed invoice
 * gets none.
 */
@Injectable()
export class RemindersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobsService,
    private readonly runs: ScheduleRuns,
    private readonly outbox: EmailOutbox,
    private readonly suppressions: SuppressionsService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async settings(businessId: string, runner: Pick<EntityManager, 'query'> = this.dataSource): Promise<ReminderSettingsView> {
    const [row]: Array<{ time_zone: string; enabled: boolean | null; stages: number[] | null; send_hour: number | null }> = await runner.query(
      'SELECT b.time_zone, s.enabled, s.stages, s.send_hour FROM businesses b LEFT JOIN reminder_settings s ON s.business_id = b.id WHERE b.id = $1',
      [businessId],
    );
    return { enabled: row?.enabled ?? true, stages: row?.stages ?? [...DEFAULT_STAGES], sendHour: row?.send_hour ?? DEFAULT_SEND_HOUR, timeZone: row?.time_zone ?? 'UTC' };
  }

  async updateSettings(principal: Principal, body: UpdateReminderSettingsDto, meta: RequestMeta): Promise<ReminderSettingsView> {
    const errors: FieldError[] = [];
    let stages: number[] | undefined;
    if (body.stages !== undefined) {
      const normalised = normaliseStages(body.stages);
      for (const problem of normalised.problems) errors.push({ field: 'stages', code: 'invalid_stages', message: problem });
      stages = normalised.stages;
    }
    if (body.timeZone !== undefined) {
      const known = isValidTimeZone(body.timeZone) && (await this.dataSource.query('SELECT 1 FROM pg_timezone_names WHERE name = $1', [body.timeZone])).length > 0;
      if (!known) errors.push({ field: 'timeZone', code: 'invalid_time_zone', message: 'timeZone must be an IANA time zone such as Europe/Berlin' });
    }
    if (errors.length) throw AppError.validation(errors);
    return this.dataSource.transaction(async (tx) => {
      const current = await this.settings(principal.businessId, tx);
      const next: ReminderSettingsView = {
        enabled: body.enabled ?? current.enabled,
        stages: stages ?? current.stages,
        sendHour: body.sendHour ?? current.sendHour,
        timeZone: body.timeZone ?? current.timeZone,
      };
      await tx.query(
        `INSERT INTO reminder_settings (business_id, enabled, stages, send_hour, updated_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (business_id) DO UPDATE SET enabled = $2, stages = $3, send_hour = $4, updated_by = $5, updated_at = now()`,
        [principal.businessId, next.enabled, next.stages, next.sendHour, principal.userId],
      );
      if (next.timeZone !== current.timeZone) await tx.query('UPDATE businesses SET time_zone = $2 WHERE id = $1', [principal.businessId, next.timeZone]);
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'reminder_settings.updated', entity: { type: 'business', id: principal.businessId }, detail: { ...next }, ...meta },
        tx,
      );
      return next;
    });
  }

  // Every 15 minutes: send hours are whole business-local hours, and time zones are offset by
  // :00, :30 or :45, so every business is reached within 15 minutes of its send hour. An idle
  // run costs one indexed range query per business with unpaid invoices.
  @Cron('0 */15 * * * *', { name: 'reminders.scan' })
  async scan(now?: Date): Promise<number | undefined> {
    const at = now instanceof Date ? now : new Date();
    return this.runs.run('reminders.scan', () => this.queueDue(at));
  }

  /** Finds every due (invoice, stage) and queues its job; the number queued (a rerun queues the same ids: no-ops). */
  async queueDue(now: Date): Promise<number> {
    let queued = 0;
    let after = NIL_UUID;
    for (;;) {
      const businesses: BusinessSchedule[] = await this.dataSource.query(
        `SELECT b.id, b.time_zone, coalesce(s.enabled, true) AS enabled, coalesce(s.stages, $2::int[]) AS stages, coalesce(s.send_hour, $3) AS send_hour
           FROM businesses b LEFT JOIN reminder_settings s ON s.business_id = b.id
          WHERE b.id > $1 AND b.closed_at IS NULL AND coalesce(s.enabled, true)
            AND EXISTS (SELECT 1 FROM invoices i WHERE i.business_id = b.id AND i.status IN ('open', 'partially_paid'))
          ORDER BY b.id LIMIT ${BUSINESS_BATCH}`,
        [after, DEFAULT_STAGES, DEFAULT_SEND_HOUR],
      );
      for (const business of businesses) queued += await this.queueDueFor(business, now);
      if (businesses.length < BUSINESS_BATCH) return queued;
      after = businesses[businesses.length - 1].id;
    }
  }

  private async queueDueFor(business: BusinessSchedule, now: Date): Promise<number> {
    if (!isValidTimeZone(business.time_zone)) {
      this.logger.warn({ businessId: business.id }, 'business time zone unknown to this runtime; reminders skipped');
      return 0;
    }
    const local = localClock(now, business.time_zone);
    const hour = now.toISOString().slice(0, 13).replace(/\D/g, '');
    const minStage = Math.min(...business.stages);
    const maxStage = Math.max(...business.stages);
    let queued = 0;
    let cursor = { dueDate: '0001-01-01', id: NIL_UUID };
    for (;;) {
      // The due stage of each invoice, as dueStage() computes it: the latest stage whose local
      // moment has passed, at most CATCH_UP_DAYS old, after the invoice was finalised, not sent
      // yet, to an address that is not suppressed. A range scan of invoices_outstanding_due_idx.
      const rows: Array<{ id: string; due_date: string; stage: number }> = await this.dataSource.query(
        `SELECT i.id, i.due_date::text AS due_date, st.stage
           FROM invoices i
           JOIN customers c ON c.business_id = i.business_id AND c.id = i.customer_id
           CROSS JOIN LATERAL (
             SELECT max(s) AS stage FROM unnest($2::int[]) AS s
              WHERE i.due_date + s < $3::date OR (i.due_date + s = $3::date AND $4::int >= $5::int)
           ) st
          WHERE i.business_id = $1 AND i.status IN ('open', 'partially_paid')
            AND i.due_date >= $3::date - ($7::int + $8::int) AND i.due_date <= $3::date - $6::int
            AND (i.due_date, i.id) > ($9::date, $10::uuid)
            AND st.stage IS NOT NULL
            AND i.due_date + st.stage >= $3::date - $8::int
            AND ((i.due_date + st.stage)::timestamp + make_interval(hours => $5::int)) AT TIME ZONE $11 > i.finalized_at
            AND c.email IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM invoice_reminders r WHERE r.invoice_id = i.id AND r.stage = st.stage)
            AND NOT EXISTS (SELECT 1 FROM email_suppressions sp WHERE sp.business_id = i.business_id AND sp.address = lower(trim(c.email)) AND sp.cleared_at IS NULL)
          ORDER BY i.due_date, i.id LIMIT ${INVOICE_BATCH}`,
        [business.id, business.stages, local.date, local.hour, business.send_hour, minStage, maxStage, CATCH_UP_DAYS, cursor.dueDate, cursor.id, business.time_zone],
      );
      // The id names the hour: every run within it queues nothing new, and a job that failed for
      // good (a database outage longer than its retries) is queued again by the next hour's scan.
      await this.jobs.dispatchMany(
        'reminder.send',
        rows.map((row) => ({ payload: { invoiceId: row.id, stage: row.stage }, jobId: `reminder.${row.id}.${row.stage}.${hour}` })),
      );
      queued += rows.length;
      if (rows.length < INVOICE_BATCH) return queued;
      cursor = { dueDate: rows[rows.length - 1].due_date, id: rows[rows.length - 1].id };
    }
  }

  @JobHandler('reminder.send')
  async send(payload: { invoiceId: string; stage: number }): Promise<void> {
    await this.sendAt(payload, new Date());
  }

  /** The reminder job at a given moment (the job handler's `now` is the present). */
  async sendAt(payload: { invoiceId: string; stage: number }, now: Date): Promise<void> {
    const emailId = await this.dataSource.transaction(async (tx) => {
      // Locked like a payment locks it: a payment being applied now finishes first, and then this sees it paid.
      const [row]: Array<{
        business_id: string;
        status: string;
        number: string | null;
        currency: string;
        due_date: string;
        finalized_at: Date | null;
        total: string;
        amount_paid: string;
        credited_total: string;
        email: string | null;
        customer_name: string;
        business_name: string;
        time_zone: string;
        link_epoch: number;
        link_ttl_days: number;
        closed_at: Date | null;
        enabled: boolean | null;
        stages: number[] | null;
        send_hour: number | null;
      }> = await tx.query(
        `SELECT i.business_id, i.status, i.number, i.currency, i.due_date::text AS due_date, i.finalized_at, i.total, i.amount_paid, i.credited_total,
                c.email, c.name AS customer_name, b.name AS business_name, b.time_zone, b.link_epoch, b.link_ttl_days, b.closed_at,
                s.enabled, s.stages, s.send_hour
           FROM invoices i
           JOIN customers c ON c.business_id = i.business_id AND c.id = i.customer_id
           JOIN businesses b ON b.id = i.business_id
           LEFT JOIN reminder_settings s ON s.business_id = i.business_id
          WHERE i.id = $1
          FOR UPDATE OF i`,
        [payload.invoiceId],
      );
      if (!row || row.closed_at || !['open', 'partially_paid'].includes(row.status) || row.enabled === false) return undefined;
      const schedule: ReminderSchedule = { stages: row.stages ?? DEFAULT_STAGES, sendHour: row.send_hour ?? DEFAULT_SEND_HOUR, timeZone: isValidTimeZone(row.time_zone) ? row.time_zone : 'UTC' };
      // Still the due stage now (the settings may have changed, a later stage may have come).
      if (dueStage(schedule, { dueDate: row.due_date, finalizedAt: row.finalized_at }, now) !== payload.stage) return undefined;
      if (!row.email || (await this.suppressions.active(tx, row.business_id, row.email))) return undefined;
      const [claimed]: Array<{ id: string }> = await tx.query(
        'INSERT INTO invoice_reminders (business_id, invoice_id, stage) VALUES ($1, $2, $3) ON CONFLICT (invoice_id, stage) DO NOTHING RETURNING id',
        [row.business_id, payload.invoiceId, payload.stage],
      );
      if (!claimed) return undefined; // sent already: the unique constraint is the last word
      const balance = balanceDue(BigInt(row.total), BigInt(row.credited_total), BigInt(row.amount_paid));
      const link = documentLink(this.config, { kind: 'pay', documentId: payload.invoiceId, linkEpoch: row.link_epoch, ttlDays: row.link_ttl_days, now });
      const id = await this.outbox.enqueue(tx, {
        businessId: row.business_id,
        to: row.email,
        template: 'reminder',
        content: templates.reminder({
          businessName: row.business_name,
          customerName: row.customer_name,
          number: row.number ?? '',
          balanceDue: `${formatMoney(balance, row.currency)} ${row.currency}`,
          dueDate: row.due_date,
          daysFromDue: payload.stage,
          payUrl: link.url,
        }),
        document: { type: 'invoice', id: payload.invoiceId },
      });
      await tx.query('UPDATE invoice_reminders SET email_id = $2 WHERE id = $1', [claimed.id, id]);
      await this.audit.record(
        { businessId: row.business_id, actor: { type: 'system' }, action: 'invoice.reminder_sent', entity: { type: 'invoice', id: payload.invoiceId }, detail: { stage: payload.stage, emailId: id } },
        tx,
      );
      return id;
    });
    if (emailId) await this.outbox.dispatch([emailId]);
  }

  /** The reminders the next 30 days hold for this business, in the order they go out. */
  async upcoming(businessId: string, query: UpcomingRemindersQuery, now: Date = new Date()): Promise<UpcomingReminders> {
    const settings = await this.settings(businessId);
    const schedule: ReminderSchedule = { stages: settings.stages, sendHour: settings.sendHour, timeZone: isValidTimeZone(settings.timeZone) ? settings.timeZone : 'UTC' };
    const base = { enabled: settings.enabled, timeZone: schedule.timeZone, sendHour: schedule.sendHour };
    if (!settings.enabled) return { ...base, data: [], nextCursor: null };
    const limit = query.limit ?? DEFAULT_LIMIT;
    const today = localClock(now, schedule.timeZone).date;
    const last = addDays(today, UPCOMING_DAYS);
    let cursor = { date: '0001-01-01', id: NIL_UUID, stage: -1000 };
    if (query.cursor) {
      const [date, id, stage] = decodeCursor(query.cursor, UPCOMING_SORT, 3);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !UUID_SHAPE.test(id) || !/^-?\d{1,3}$/.test(stage)) {
        throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not valid' }]);
      }
      cursor = { date, id, stage: Number(stage) };
    }
    const rows: Array<{
      id: string;
      number: string | null;
      customer_id: string;
      customer_name: string;
      email: string | null;
      due_date: string;
      stage: number;
      stage_date: string;
      currency: string;
      total: string;
      amount_paid: string;
      credited_total: string;
      suppressed: boolean;
    }> = await this.dataSource.query(
      `SELECT i.id, i.number, i.customer_id, c.name AS customer_name, c.email, i.due_date::text AS due_date, s AS stage, (i.due_date + s)::text AS stage_date,
              i.currency, i.total, i.amount_paid, i.credited_total,
              EXISTS (SELECT 1 FROM email_suppressions sp WHERE sp.business_id = i.business_id AND sp.address = lower(trim(c.email)) AND sp.cleared_at IS NULL) AS suppressed
         FROM invoices i
         JOIN customers c ON c.business_id = i.business_id AND c.id = i.customer_id
         CROSS JOIN unnest($2::int[]) AS s
        WHERE i.business_id = $1 AND i.status IN ('open', 'partially_paid')
          AND i.due_date >= $3::date - $5::int AND i.due_date <= $4::date - $6::int
          AND i.due_date + s BETWEEN $3::date AND $4::date
          AND ((i.due_date + s)::timestamp + make_interval(hours => $7::int)) AT TIME ZONE $8 > i.finalized_at
          AND NOT EXISTS (SELECT 1 FROM invoice_reminders r WHERE r.invoice_id = i.id AND r.stage = s)
          AND (i.due_date + s, i.id, s) > ($9::date, $10::uuid, $11::int)
        ORDER BY i.due_date + s, i.id, s
        LIMIT ${limit + 1}`,
      [businessId, schedule.stages, today, last, Math.max(...schedule.stages), Math.min(...schedule.stages), schedule.sendHour, schedule.timeZone, cursor.date, cursor.id, cursor.stage],
    );
    const more = rows.length > limit;
    const kept = more ? rows.slice(0, limit) : rows;
    const tail = kept[kept.length - 1];
    return {
      ...base,
      data: kept.map((row) => ({
        invoiceId: row.id,
        invoiceNumber: row.number,
        customerId: row.customer_id,
        customerName: row.customer_name,
        stage: row.stage,
        stageDate: row.stage_date,
        scheduledFor: stageMoment(schedule, row.due_date, row.stage).toISOString(),
        dueDate: row.due_date,
        balanceDue: Number(balanceDue(BigInt(row.total), BigInt(row.credited_total), BigInt(row.amount_paid))),
        currency: row.currency,
        blockedBy: !row.email ? 'no_email' : row.suppressed ? 'suppressed' : null,
      })),
      nextCursor: more && tail ? encodeCursor(UPCOMING_SORT, [tail.stage_date, tail.id, String(tail.stage)]) : null,
    };
  }
}
