import { Inject, Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { queryRows } from '../database/sql.js';
import { withAdvisoryXactLock } from '../jobs/advisory-lock.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import { SecurityEvents } from '../security/security-events.service.js';
import { columnsOf, deleteWithDependents, ident, tableExists } from './schema-probe.js';

export const MIN_RETENTION_YEARS = 5;
export const MAX_RETENTION_YEARS = 30;
/** Security and access logs (security events, ended sessions, link opens, the system audit chain). */
export const ACCESS_LOG_DAYS = 365;
/** Webhook payloads (stored redacted by the webhooks module) are cleared after this. */
export const WEBHOOK_PAYLOAD_DAYS = 90;
const SYSTEM_CHAIN = '00000000-0000-0000-0000-000000000000';
/** Where the webhooks module may keep payloads: table, payload column, time column candidates. */
const WEBHOOK_PAYLOAD_TABLES = [{ table: 'webhook_events', payload: ['payload'], time: ['received_at'] }];

export interface RetentionSettings {
  retentionYears: number;
  fiscalYearEndMonth: number;
  /** Documents dated on or before this day are past retention today. */
  financialCutoff: string;
  accessLogDays: number;
  webhookPayloadDays: number;
  minimumRetentionYears: number;
}

export interface RetentionPlan {
  scope: 'business' | 'platform';
  generatedAt: string;
  financialCutoff: string | null;
  auditCutoff: string;
  invoices: { purge: number; keptBecauseUnpaid: number; oldestIssueDate: string | null; newestIssueDate: string | null };
  creditNotes: number;
  invoiceVersions: number;
  estimates: number;
  payments: number | null;
  refunds: number | null;
  emails: number;
  linkOpens: number | null;
  securityEvents: number;
  sessions: number;
  auditEvents: { purge: number; throughSeq: string | null };
  webhookPayloads: number | null;
}

interface PlanDetail {
  plan: RetentionPlan;
  invoiceIds: string[];
  estimateIds: string[];
  audit: { throughSeq: string; throughHash: Buffer; count: number } | null;
}

/**
 * Retention: the business's setting (default 7 years after the end of the fiscal year; never
 * below 5), a dry run that shows exactly what the next purge would remove (the same plan the
 * purge executes), and the scheduled purge. The purge is the only code that sets the
 * transaction-local `ledgerline.retention_purge` flag, and even then the database triggers
 * refuse to remove anything younger than the cutoff they compute themselves (see
 * migrations/1764400000000-CreateCompliance.ts). Audit events go as a chain prefix, leaving an
 * anchor (seq and hash of the last removed event) from which the rest still verifies, and a
 * `retention.purged` event in the chain records what went.
 */
@Injectable()
export class RetentionService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly audit: AuditService,
    private readonly jobs: JobsService,
    private readonly security: SecurityEvents,
  ) {}

  async settings(businessId: string): Promise<RetentionSettings> {
    const [row]: Array<{ retention_years: number; fiscal_year_end_month: number; cutoff: string }> = await this.dataSource.query(
      'SELECT retention_years, fiscal_year_end_month, retention_financial_cutoff(id)::text AS cutoff FROM businesses WHERE id = $1',
      [businessId],
    );
    return {
      retentionYears: row.retention_years,
      fiscalYearEndMonth: row.fiscal_year_end_month,
      financialCutoff: row.cutoff,
      accessLogDays: ACCESS_LOG_DAYS,
      webhookPayloadDays: WEBHOOK_PAYLOAD_DAYS,
      minimumRetentionYears: MIN_RETENTION_YEARS,
    };
  }

  async updateSettings(principal: Principal, input: { retentionYears?: number; fiscalYearEndMonth?: number }, meta: RequestMeta): Promise<RetentionSettings> {
    const before = await this.settings(principal.businessId);
    const next = { retentionYears: input.retentionYears ?? before.retentionYears, fiscalYearEndMonth: input.fiscalYearEndMonth ?? before.fiscalYearEndMonth };
    if (next.retentionYears === before.retentionYears && next.fiscalYearEndMonth === before.fiscalYearEndMonth) return before;
    const raised = await this.dataSource.transaction(async (tx) => {
      await queryRows(tx, 'UPDATE businesses SET retention_years = $2, fiscal_year_end_month = $3 WHERE id = $1', [principal.businessId, next.retentionYears, next.fiscalYearEndMonth]);
      const detail = { from: { retentionYears: before.retentionYears, fiscalYearEndMonth: before.fiscalYearEndMonth }, to: next };
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'business.retention_changed', entity: { type: 'business', id: principal.businessId }, detail, ...meta }, tx);
      return this.security.raise(tx, { businessId: principal.businessId, kind: 'retention_changed', subject: 'business', summary: `The retention period changed from ${before.retentionYears} to ${next.retentionYears} years (fiscal year ending in month ${next.fiscalYearEndMonth}).`, detail: { ...detail, by: principal.userId } });
    });
    await this.security.alert(raised);
    return this.settings(principal.businessId);
  }

  /** What the next purge of this business would remove (nothing is changed). */
  async dryRun(businessId: string): Promise<RetentionPlan> {
    return (await this.planBusiness(this.dataSource.manager, businessId)).plan;
  }

  async dryRunPlatform(): Promise<RetentionPlan> {
    return (await this.planPlatform(this.dataSource.manager)).plan;
  }

  // 03:41 UTC daily, after the audit chain check: one purge job per business and one for the platform.
  @Cron('41 3 * * *', { name: 'compliance.retention' })
  async scheduleAll(now = new Date()): Promise<number | undefined> {
    return withAdvisoryXactLock(this.dataSource, 'compliance.retention', async (tx) => {
      const day = now.toISOString().slice(0, 10);
      const businesses: Array<{ id: string }> = await tx.query('SELECT id FROM businesses ORDER BY id');
      await this.jobs.dispatch('compliance.retention-purge', { businessId: null }, { jobId: `compliance.retention-purge.platform.${day}` });
      for (const { id } of businesses) {
        await this.jobs.dispatch('compliance.retention-purge', { businessId: id }, { jobId: `compliance.retention-purge.${id}.${day}` });
      }
      const due: Array<{ id: string }> = await tx.query(
        'SELECT id FROM businesses WHERE closed_at IS NOT NULL AND identifying_data_erased_at IS NULL AND identifying_data_erase_after <= now()',
      );
      for (const { id } of due) await this.jobs.dispatch('compliance.erase-closed-business', { businessId: id }, { jobId: `compliance.erase-closed-business.${id}` });
      return businesses.length + 1;
    });
  }

  @JobHandler('compliance.retention-purge')
  async purge(payload: { businessId: string | null }): Promise<RetentionPlan> {
    const plan = payload.businessId === null ? await this.purgePlatform() : await this.purgeBusiness(payload.businessId);
    this.logger.info({ businessId: payload.businessId, plan }, 'retention purge done');
    return plan;
  }

  async purgeBusiness(businessId: string): Promise<RetentionPlan> {
    return this.dataSource.transaction(async (tx) => {
      // Appends to this chain wait: the prefix and the anchor are computed against a still chain.
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`audit:${businessId}`]);
      const detail = await this.planBusiness(tx, businessId);
      const { plan } = detail;
      if (isEmpty(plan)) return plan;
      await tx.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
      const invoiceIds = detail.invoiceIds;
      if (await tableExists(tx, 'document_opens')) {
        await queryRows(tx,
          `DELETE FROM document_opens WHERE business_id = $1 AND (opened_at < now() - interval '${ACCESS_LOG_DAYS} days'
             OR (document_type = 'invoice' AND document_id = ANY($2::uuid[])) OR (document_type = 'estimate' AND document_id = ANY($3::uuid[])))`,
          [businessId, invoiceIds, detail.estimateIds],
        );
      }
      // Invoices with everything that references them (lines, versions, credit notes, payments,
      // refunds, credits, disputes, checkouts, reminders), found through the catalog's foreign keys.
      if (invoiceIds.length > 0) await deleteWithDependents(tx, 'invoices', 'business_id = $1 AND id = ANY($2::uuid[])', [businessId, invoiceIds]);
      if (detail.estimateIds.length > 0) await deleteWithDependents(tx, 'estimates', 'business_id = $1 AND id = ANY($2::uuid[])', [businessId, detail.estimateIds]);
      await deleteWithDependents(tx, 'emails', `business_id = $1 AND created_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'`, [businessId, plan.financialCutoff]);
      if (await tableExists(tx, 'email_events')) await queryRows(tx, `DELETE FROM email_events WHERE business_id = $1 AND received_at < now() - interval '${ACCESS_LOG_DAYS} days'`, [businessId]);
      await queryRows(tx, `DELETE FROM security_events WHERE business_id = $1 AND last_seen_at < now() - interval '${ACCESS_LOG_DAYS} days'`, [businessId]);
      await this.deleteEndedSessions(tx, businessId);
      if (detail.audit) await this.purgeAuditPrefix(tx, businessId, detail.audit);
      await tx.query(`SELECT set_config('ledgerline.retention_purge', 'off', true)`);
      await this.audit.record(
        {
          businessId,
          actor: { type: 'system' },
          action: 'retention.purged',
          entity: { type: 'business', id: businessId },
          detail: { ...counts(plan), financialCutoff: plan.financialCutoff, auditThroughSeq: detail.audit?.throughSeq ?? null, auditThroughHash: detail.audit?.throughHash.toString('hex') ?? null },
        },
        tx,
      );
      return plan;
    });
  }

  async purgePlatform(): Promise<RetentionPlan> {
    return this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['audit:system']);
      const detail = await this.planPlatform(tx);
      await tx.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
      await queryRows(tx, `DELETE FROM security_events WHERE business_id IS NULL AND last_seen_at < now() - interval '${ACCESS_LOG_DAYS} days'`);
      await deleteWithDependents(tx, 'emails', `business_id IS NULL AND created_at < now() - interval '${ACCESS_LOG_DAYS} days'`, []);
      if (await tableExists(tx, 'email_events')) await queryRows(tx, `DELETE FROM email_events WHERE business_id IS NULL AND received_at < now() - interval '${ACCESS_LOG_DAYS} days'`);
      await queryRows(tx, `DELETE FROM password_resets WHERE expires_at < now() - interval '${ACCESS_LOG_DAYS} days'`);
      await queryRows(tx, 'DELETE FROM rate_limit_counters WHERE expires_at < now()');
      await queryRows(tx, `DELETE FROM security_signals WHERE at < now() - interval '1 day'`);
      await queryRows(tx, 'DELETE FROM security_bursts WHERE open_until < now()');
      await this.clearWebhookPayloads(tx, false);
      if (detail.audit) await this.purgeAuditPrefix(tx, null, detail.audit);
      await tx.query(`SELECT set_config('ledgerline.retention_purge', 'off', true)`);
      if (!isEmpty(detail.plan)) {
        await this.audit.record(
          { businessId: null, actor: { type: 'system' }, action: 'retention.purged', detail: { ...counts(detail.plan), auditThroughSeq: detail.audit?.throughSeq ?? null, auditThroughHash: detail.audit?.throughHash.toString('hex') ?? null } },
          tx,
        );
      }
      return detail.plan;
    });
  }

  private async planBusiness(runner: EntityManager, businessId: string): Promise<PlanDetail> {
    const [cut]: Array<{ cutoff: string | null; audit_cutoff: Date }> = await runner.query(
      'SELECT retention_financial_cutoff($1)::text AS cutoff, audit_retention_cutoff($1) AS audit_cutoff',
      [businessId],
    );
    if (!cut?.cutoff) throw AppError.notFound('business_not_found', 'No such business.');
    const cutoff = cut.cutoff;
    const invoices: Array<{ id: string; status: string; issue_date: string }> = await runner.query(
      'SELECT id, status, issue_date FROM invoices WHERE business_id = $1 AND issue_date <= $2::date ORDER BY issue_date, id',
      [businessId, cutoff],
    );
    // An invoice still owed is kept: it is a live claim, not only a record.
    const purge = invoices.filter((invoice) => !['open', 'partially_paid'].includes(invoice.status));
    const invoiceIds = purge.map((invoice) => invoice.id);
    const [dependents]: Array<{ credit_notes: number; versions: number }> = await runner.query(
      `SELECT (SELECT count(*)::int FROM credit_notes WHERE business_id = $1 AND invoice_id = ANY($2::uuid[])) AS credit_notes,
              (SELECT count(*)::int FROM invoice_versions WHERE business_id = $1 AND invoice_id = ANY($2::uuid[])) AS versions`,
      [businessId, invoiceIds],
    );
    const estimates: Array<{ id: string }> = await runner.query(
      `SELECT e.id FROM estimates e WHERE e.business_id = $1 AND e.issue_date <= $2::date
          AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.business_id = e.business_id AND i.source_estimate_id = e.id AND NOT (i.id = ANY($3::uuid[])))`,
      [businessId, cutoff, invoiceIds],
    );
    const estimateIds = estimates.map((row) => row.id);
    const [other]: Array<{ emails: number; security_events: number; sessions: number }> = await runner.query(
      `SELECT (SELECT count(*)::int FROM emails WHERE business_id = $1 AND created_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC') AS emails,
              (SELECT count(*)::int FROM security_events WHERE business_id = $1 AND last_seen_at < now() - interval '${ACCESS_LOG_DAYS} days') AS security_events,
              (SELECT count(*)::int FROM sessions WHERE business_id = $1 AND ${SESSION_ENDED}) AS sessions`,
      [businessId, cutoff],
    );
    let linkOpens: number | null = null;
    if (await tableExists(runner, 'document_opens')) {
      const [opens]: Array<{ n: number }> = await runner.query(
        `SELECT count(*)::int AS n FROM document_opens WHERE business_id = $1 AND (opened_at < now() - interval '${ACCESS_LOG_DAYS} days'
            OR (document_type = 'invoice' AND document_id = ANY($2::uuid[])) OR (document_type = 'estimate' AND document_id = ANY($3::uuid[])))`,
        [businessId, invoiceIds, estimateIds],
      );
      linkOpens = opens.n;
    }
    const audit = await this.auditPrefix(runner, businessId);
    return {
      plan: {
        scope: 'business',
        generatedAt: new Date().toISOString(),
        financialCutoff: cutoff,
        auditCutoff: cut.audit_cutoff.toISOString(),
        invoices: {
          purge: purge.length,
          keptBecauseUnpaid: invoices.length - purge.length,
          oldestIssueDate: purge[0]?.issue_date ?? null,
          newestIssueDate: purge[purge.length - 1]?.issue_date ?? null,
        },
        creditNotes: dependents.credit_notes,
        invoiceVersions: dependents.versions,
        estimates: estimateIds.length,
        payments: await this.countByInvoice(runner, 'payments', businessId, invoiceIds),
        refunds: await this.countByInvoice(runner, 'refunds', businessId, invoiceIds),
        emails: other.emails,
        linkOpens,
        securityEvents: other.security_events,
        sessions: other.sessions,
        auditEvents: { purge: audit?.count ?? 0, throughSeq: audit?.throughSeq ?? null },
        webhookPayloads: null,
      },
      invoiceIds,
      estimateIds,
      audit,
    };
  }

  private async planPlatform(runner: EntityManager): Promise<PlanDetail> {
    const [cut]: Array<{ audit_cutoff: Date }> = await runner.query('SELECT audit_retention_cutoff(NULL) AS audit_cutoff');
    const [other]: Array<{ emails: number; security_events: number }> = await runner.query(
      `SELECT (SELECT count(*)::int FROM emails WHERE business_id IS NULL AND created_at < now() - interval '${ACCESS_LOG_DAYS} days') AS emails,
              (SELECT count(*)::int FROM security_events WHERE business_id IS NULL AND last_seen_at < now() - interval '${ACCESS_LOG_DAYS} days') AS security_events`,
    );
    const audit = await this.auditPrefix(runner, null);
    return {
      plan: {
        scope: 'platform',
        generatedAt: new Date().toISOString(),
        financialCutoff: null,
        auditCutoff: cut.audit_cutoff.toISOString(),
        invoices: { purge: 0, keptBecauseUnpaid: 0, oldestIssueDate: null, newestIssueDate: null },
        creditNotes: 0,
        invoiceVersions: 0,
        estimates: 0,
        payments: null,
        refunds: null,
        emails: other.emails,
        linkOpens: null,
        securityEvents: other.security_events,
        sessions: 0,
        auditEvents: { purge: audit?.count ?? 0, throughSeq: audit?.throughSeq ?? null },
        webhookPayloads: await this.clearWebhookPayloads(runner, true),
      },
      invoiceIds: [],
      estimateIds: [],
      audit,
    };
  }

  /**
   * The longest chain prefix whose every event is past the chain's cutoff, never including the
   * head (so the next event continues the chain rather than restarting it at seq 1).
   */
  private async auditPrefix(runner: EntityManager, businessId: string | null): Promise<PlanDetail['audit']> {
    const chain = businessId === null ? 'business_id IS NULL AND $1::uuid IS NULL' : 'business_id = $1';
    const [bounds]: Array<{ min_seq: string | null; max_seq: string | null; first_young: string | null }> = await runner.query(
      `SELECT (SELECT min(seq)::text FROM audit_events WHERE ${chain}) AS min_seq,
              (SELECT max(seq)::text FROM audit_events WHERE ${chain}) AS max_seq,
              (SELECT min(seq)::text FROM audit_events WHERE ${chain} AND occurred_at >= audit_retention_cutoff($1::uuid)) AS first_young`,
      [businessId],
    );
    if (bounds.min_seq === null || bounds.max_seq === null) return null;
    const min = BigInt(bounds.min_seq);
    const max = BigInt(bounds.max_seq);
    let through = bounds.first_young === null ? max : BigInt(bounds.first_young) - 1n;
    if (through > max - 1n) through = max - 1n;
    if (through < min) return null;
    const [row]: Array<{ hash: Buffer }> = await runner.query(`SELECT hash FROM audit_events WHERE ${chain} AND seq = $2`, [businessId, through.toString()]);
    if (!row) return null;
    return { throughSeq: through.toString(), throughHash: row.hash, count: Number(through - min + 1n) };
  }

  private async purgeAuditPrefix(tx: EntityManager, businessId: string | null, prefix: NonNullable<PlanDetail['audit']>): Promise<void> {
    await tx.query(
      `INSERT INTO audit_chain_anchors (chain_id, business_id, through_seq, through_hash, purged_events) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (chain_id) DO UPDATE SET through_seq = excluded.through_seq, through_hash = excluded.through_hash,
         purged_events = audit_chain_anchors.purged_events + excluded.purged_events, updated_at = now()`,
      [businessId ?? SYSTEM_CHAIN, businessId, prefix.throughSeq, prefix.throughHash, prefix.count],
    );
    const chain = businessId === null ? 'business_id IS NULL AND $1::uuid IS NULL' : 'business_id = $1';
    await queryRows(tx, `DELETE FROM audit_events WHERE ${chain} AND seq <= $2`, [businessId, prefix.throughSeq]);
  }

  private async deleteEndedSessions(tx: EntityManager, businessId: string): Promise<void> {
    await queryRows(tx, `DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE business_id = $1 AND ${SESSION_ENDED})`, [businessId]);
    await queryRows(tx, `DELETE FROM sessions WHERE business_id = $1 AND ${SESSION_ENDED}`, [businessId]);
  }

  /** Rows of a payments-module table that belong to purged invoices (directly or through their payment). */
  private async byInvoiceFilter(runner: EntityManager, table: string): Promise<string | undefined> {
    const columns = await columnsOf(runner, table);
    if (!columns.has('business_id')) return undefined;
    if (columns.has('invoice_id')) return 'business_id = $1 AND invoice_id = ANY($2::uuid[])';
    if (columns.has('payment_id') && (await columnsOf(runner, 'payments')).has('invoice_id')) {
      return 'business_id = $1 AND payment_id IN (SELECT id FROM payments WHERE business_id = $1 AND invoice_id = ANY($2::uuid[]))';
    }
    return undefined;
  }

  private async countByInvoice(runner: EntityManager, table: string, businessId: string, invoiceIds: string[]): Promise<number | null> {
    const filter = await this.byInvoiceFilter(runner, table);
    if (!filter) return null;
    const [row]: Array<{ n: number }> = await runner.query(`SELECT count(*)::int AS n FROM ${ident(table)} WHERE ${filter}`, [businessId, invoiceIds]);
    return row.n;
  }

  /** Webhook payloads older than 90 days: counted (dry run) or cleared. Null while the webhooks module has no such table. */
  private async clearWebhookPayloads(runner: EntityManager, countOnly: boolean): Promise<number | null> {
    let total: number | null = null;
    for (const candidate of WEBHOOK_PAYLOAD_TABLES) {
      const columns = await columnsOf(runner, candidate.table);
      const payload = candidate.payload.find((name) => columns.has(name));
      const time = candidate.time.find((name) => columns.has(name));
      if (!payload || !time) continue;
      const nullable = columns.get(payload) === true;
      // An event still waiting to be processed keeps its payload, however old.
      const pending = columns.has('status') ? ` AND status <> 'received'` : '';
      const old = `${ident(time)} < now() - interval '${WEBHOOK_PAYLOAD_DAYS} days' AND ${nullable ? `${ident(payload)} IS NOT NULL` : `${ident(payload)}::text <> '{}'`}${pending}`;
      if (countOnly) {
        const [row]: Array<{ n: number }> = await runner.query(`SELECT count(*)::int AS n FROM ${ident(candidate.table)} WHERE ${old}`);
        total = (total ?? 0) + row.n;
      } else {
        // Keep the row (its provider event id still deduplicates a late retry); drop the payload and the signature header.
        const sets = [`${ident(payload)} = ${nullable ? 'NULL' : `'{}'`}`, ...(columns.get('signature') === true ? ['signature = NULL'] : [])];
        const changed: unknown[] = await queryRows(runner, `UPDATE ${ident(candidate.table)} SET ${sets.join(', ')} WHERE ${old} RETURNING 1`);
        total = (total ?? 0) + changed.length;
      }
    }
    return total;
  }

  /** The audit chain anchor of a business, if a purge has left one. */
  async anchor(businessId: string): Promise<{ throughSeq: string; purgedEvents: number } | null> {
    const [row]: Array<{ through_seq: string; purged_events: string }> = await this.dataSource.query(
      'SELECT through_seq::text AS through_seq, purged_events::text AS purged_events FROM audit_chain_anchors WHERE chain_id = $1',
      [businessId],
    );
    return row ? { throughSeq: row.through_seq, purgedEvents: Number(row.purged_events) } : null;
  }
}

/** A session that ended (revoked or expired) more than a year ago. */
const SESSION_ENDED = `coalesce(revoked_at, least(idle_expires_at, absolute_expires_at)) < now() - interval '${ACCESS_LOG_DAYS} days'`;

function counts(plan: RetentionPlan): Record<string, number | null> {
  return {
    invoices: plan.invoices.purge,
    creditNotes: plan.creditNotes,
    invoiceVersions: plan.invoiceVersions,
    estimates: plan.estimates,
    payments: plan.payments,
    refunds: plan.refunds,
    emails: plan.emails,
    linkOpens: plan.linkOpens,
    securityEvents: plan.securityEvents,
    sessions: plan.sessions,
    auditEvents: plan.auditEvents.purge,
    webhookPayloads: plan.webhookPayloads,
  };
}

function isEmpty(plan: RetentionPlan): boolean {
  return Object.values(counts(plan)).every((value) => !value);
}
