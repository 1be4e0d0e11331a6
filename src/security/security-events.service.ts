import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { redact } from '../common/logging/redact.js';
import { DEFAULT_LIMIT, decodeCursor, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { queryRows } from '../database/sql.js';
import { EmailOutbox, type OutgoingEmail } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';
import { burstKey, KIND_INFO, type SecurityKind, type Severity } from './security-rules.js';
import { SecurityMetrics } from './security-metrics.js';

export interface RaiseInput {
  /** Null: the platform (no business is concerned, e.g. forged webhooks). */
  businessId: string | null;
  kind: SecurityKind;
  /** Groups bursts (counted kinds: the account or address; others: ignored, one burst per kind). */
  subject?: string | null;
  summary: string;
  detail?: Record<string, unknown>;
  /** Occurrences a new event starts with (a counted kind passes the count that crossed the threshold). Default 1. */
  occurrences?: number;
  /** Occurrences added when this joins an open burst. Default 1 (0: a recount that only refreshes the detail). */
  joinOccurrences?: number;
}

export interface Raised {
  eventId: string;
  created: boolean;
  businessId: string | null;
  kind: SecurityKind;
  severity: Severity;
  emailIds: string[];
}

export interface SecurityEventView {
  id: string;
  scope: 'business' | 'platform';
  kind: string;
  severity: Severity;
  subject: string | null;
  summary: string;
  detail: Record<string, unknown>;
  occurrences: number;
  firstSeenAt: string;
  lastSeenAt: string;
  alertedAt: string | null;
}

/** Platform events every business may see in its list (they concern everyone and name no one). */
const SHARED_PLATFORM_KINDS: SecurityKind[] = ['webhook_verification_failures'];
const LIST_SORT = 'first_seen_desc';

/**
 * Security events and their alerts. `raise` joins the caller's transaction: the first
 * occurrence of a burst inserts the event and queues one alert email per admin of the business;
 * every later occurrence inside the quiet period only counts into the open event. So an attack
 * of 500 failed logins is one event and one alert, not 500. Call `alert` after commit.
 */
@Injectable()
export class SecurityEvents {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: EmailOutbox,
    private readonly metrics: SecurityMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async raise(tx: EntityManager, input: RaiseInput): Promise<Raised> {
    const info = KIND_INFO[input.kind];
    const businessId = input.businessId?.toLowerCase() ?? null;
    const grouping = info.threshold ? (input.subject ?? null) : null;
    const key = burstKey(businessId, input.kind, grouping);
    const occurrences = Math.max(1, Math.trunc(input.occurrences ?? 1));
    const detail = redact(input.detail ?? {});
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`security-burst:${key}`]);
    const [open]: Array<{ event_id: string }> = await tx.query('SELECT event_id FROM security_bursts WHERE burst_key = $1 AND open_until > now()', [key]);
    if (open) {
      await queryRows(tx,
        'UPDATE security_events SET occurrences = occurrences + $2, last_seen_at = now(), detail = detail || $3::jsonb WHERE id = $1',
        [open.event_id, Math.max(0, Math.trunc(input.joinOccurrences ?? 1)), JSON.stringify(detail)],
      );
      await queryRows(tx, `UPDATE security_bursts SET open_until = now() + $2 * interval '1 millisecond' WHERE burst_key = $1`, [key, info.quietMs]);
      return { eventId: open.event_id, created: false, businessId, kind: input.kind, severity: info.severity, emailIds: [] };
    }
    const [event]: Array<{ id: string }> = await tx.query(
      `INSERT INTO security_events (business_id, kind, severity, subject, summary, detail, occurrences)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [businessId, input.kind, info.severity, input.subject ?? null, input.summary.slice(0, 500), JSON.stringify(detail), occurrences],
    );
    await tx.query(
      `INSERT INTO security_bursts (burst_key, event_id, open_until) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (burst_key) DO UPDATE SET event_id = excluded.event_id, open_until = excluded.open_until`,
      [key, event.id, info.quietMs],
    );
    const emailIds = await this.queueAlertEmails(tx, businessId, input.kind, input.summary);
    await queryRows(tx, 'UPDATE security_events SET alerted_at = now(), alert_recipients = $2 WHERE id = $1', [event.id, emailIds.length]);
    return { eventId: event.id, created: true, businessId, kind: input.kind, severity: info.severity, emailIds };
  }

  /**
   * After commit: sends the alert emails and writes the alert log line (for a platform event,
   * at error level, so it reaches Sentry and log-based alerting: no business admin is concerned;
   * its emails go to OPERATOR_ALERT_EMAILS when set).
   */
  async alert(raised: Raised | Raised[] | undefined): Promise<void> {
    for (const item of Array.isArray(raised) ? raised : raised ? [raised] : []) {
      if (!item.created) continue;
      this.metrics.securityAlerts.inc({ kind: item.kind });
      const line = { securityEventId: item.eventId, kind: item.kind, severity: item.severity, businessId: item.businessId, recipients: item.emailIds.length };
      if (item.businessId === null) this.logger.error(line, 'security alert (platform)');
      else this.logger.warn(line, 'security alert');
      try {
        await this.outbox.dispatch(item.emailIds);
      } catch (error) {
        // The rows are committed; the outbox sweeper sends them once the queue is back.
        this.logger.warn({ err: error, securityEventId: item.eventId }, 'security alert emails not queued yet');
      }
    }
  }

  /** Raise in its own transaction and alert; never throws (monitoring must not break the caller). */
  async raiseNow(input: RaiseInput): Promise<Raised | undefined> {
    try {
      const raised = await this.dataSource.transaction((tx) => this.raise(tx, input));
      await this.alert(raised);
      return raised;
    } catch (error) {
      this.logger.error({ err: error, kind: input.kind }, 'could not record a security event');
      return undefined;
    }
  }

  async list(businessId: string, query: { limit?: number; cursor?: string; kind?: string }): Promise<Page<SecurityEventView>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    let time: string | null = null;
    let id: string | null = null;
    if (query.cursor !== undefined) {
      [time, id] = decodeCursor(query.cursor, LIST_SORT, 2);
      if (Number.isNaN(Date.parse(time)) || !UUID_SHAPE.test(id)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not a cursor returned by this list' }]);
    }
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT id, business_id, kind, severity, subject, summary, detail, occurrences, first_seen_at, last_seen_at, alerted_at,
              to_char(first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS first_key
         FROM security_events
        WHERE (business_id = $1 OR (business_id IS NULL AND kind = ANY($2)))
          AND ($3::text IS NULL OR kind = $3)
          AND ($4::timestamptz IS NULL OR (first_seen_at, id) < ($4::timestamptz, $5::uuid))
        ORDER BY first_seen_at DESC, id DESC
        LIMIT $6`,
      [businessId, SHARED_PLATFORM_KINDS, query.kind ?? null, time, id, limit + 1],
    );
    return toPage(rows, limit, LIST_SORT, (row) => [row.first_key as string, row.id as string], (row) => ({
      id: row.id as string,
      scope: row.business_id ? 'business' : 'platform',
      kind: row.kind as string,
      severity: row.severity as Severity,
      subject: row.subject as string | null,
      summary: row.summary as string,
      detail: row.detail as Record<string, unknown>,
      occurrences: row.occurrences as number,
      firstSeenAt: (row.first_seen_at as Date).toISOString(),
      lastSeenAt: (row.last_seen_at as Date).toISOString(),
      alertedAt: row.alerted_at ? (row.alerted_at as Date).toISOString() : null,
    }));
  }

  /**
   * One alert email per admin of the business, or for a platform event per operator address
   * (OPERATOR_ALERT_EMAILS), from the durable outbox (sent after commit). Addressed to members
   * and operators, not customers: not stopped by a business's closure (the row has no business).
   */
  private async queueAlertEmails(tx: EntityManager, businessId: string | null, kind: SecurityKind, summary: string): Promise<string[]> {
    const alert = (to: string, name: string, businessName: string): OutgoingEmail => ({
      businessId: null,
      to,
      template: 'securityEvent',
      content: templates.securityEvent({ name, businessName, title: KIND_INFO[kind].title, summary, when: new Date().toISOString() }),
    });
    if (businessId) return this.outbox.enqueueForAdmins(tx, businessId, (admin) => alert(admin.email, admin.name, admin.businessName));
    const ids: string[] = [];
    for (const to of this.config.operatorAlertEmails) ids.push(await this.outbox.enqueue(tx, alert(to, 'operator', 'the Ledgerline platform')));
    return ids;
  }
}
