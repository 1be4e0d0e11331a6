import { Inject, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { queryRows } from '../database/sql.js';
import { withAdvisoryXactLock } from '../jobs/advisory-lock.js';
import { SecurityEvents, type Raised } from './security-events.service.js';
import { classify, KIND_INFO, SCANNED_ACTIONS, type ScannedEvent, type Signal } from './security-rules.js';

const BATCH = 500;
/** A scanned position is final once this old: only a transaction open longer could still add an event below it. */
const SETTLE_MS = 60_000;
/** Events older than this when first seen (a backlog after an outage) are counted but raise nothing. */
const STALE_MS = 60 * 60_000;
const CLEANUP_EVERY = 150;
/** Every 30 seconds: failed checkouts per business in the last hour. */
const FAILED_PAYMENTS_EVERY = 15;

/**
 * Watches the audit trail for what security monitoring alerts on (failed sign-ins, token reuse,
 * role changes, MFA off, mass voids, failed payments, exports) and turns it into security events
 * (see security-rules.ts). Runs every 2 seconds in the worker role under an advisory lock, so one
 * process scans at a time. Each audit event is processed exactly once: its signals are inserted
 * with a unique key and only a new signal counts. Nothing in the other modules had to change.
 */
@Injectable()
export class SecurityScanner {
  private running = false;
  private ticks = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly events: SecurityEvents,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Interval('security.scan', 2000)
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.scanOnce();
      this.ticks += 1;
      if (this.ticks % FAILED_PAYMENTS_EVERY === 1) await this.scanFailedPayments();
      if (this.ticks % CLEANUP_EVERY === 0) await this.cleanup();
    } catch (error) {
      this.logger.warn({ err: error }, 'security scan failed; will retry');
    } finally {
      this.running = false;
    }
  }

  /** One pass; returns how many audit events were examined (undefined: another process holds the lock). */
  async scanOnce(): Promise<number | undefined> {
    const outcome = await withAdvisoryXactLock(this.dataSource, 'security.scan', async (tx) => {
      const [state]: Array<{ confirmed_id: string; candidate_id: string; candidate_settled: boolean }> = await tx.query(
        `SELECT confirmed_id::text AS confirmed_id, candidate_id::text AS candidate_id, candidate_at < now() - $1 * interval '1 millisecond' AS candidate_settled
           FROM security_scan_state WHERE id = 1 FOR UPDATE`,
        [SETTLE_MS],
      );
      const rows: Array<{ id: string; business_id: string | null; action: string; actor_type: string; actor_id: string | null; entity_type: string | null; entity_id: string | null; ip: string | null; detail: Record<string, unknown>; occurred_at: Date; stale: boolean }> =
        await tx.query(
          `SELECT id::text AS id, business_id, action, actor_type, actor_id, entity_type, entity_id, ip, detail, occurred_at,
                  occurred_at < now() - $3 * interval '1 millisecond' AS stale
             FROM audit_events WHERE id > $1 AND action = ANY($2) ORDER BY id LIMIT ${BATCH}`,
          [state.confirmed_id, SCANNED_ACTIONS, STALE_MS],
        );
      const raised: Raised[] = [];
      for (const row of rows) {
        const event: ScannedEvent = {
          id: row.id, businessId: row.business_id, action: row.action, actorType: row.actor_type, actorId: row.actor_id,
          entityType: row.entity_type, entityId: row.entity_id, ip: row.ip, detail: row.detail ?? {},
        };
        for (const signal of classify(event)) raised.push(...(await this.process(tx, event, signal, row.occurred_at, row.stale)));
      }
      // Advance: the candidate becomes final once settled; a full batch holds the position at what was processed.
      let confirmed = BigInt(state.confirmed_id);
      if (state.candidate_settled) confirmed = BigInt(state.candidate_id);
      if (rows.length === BATCH) {
        const last = BigInt(rows[rows.length - 1].id);
        if (last < confirmed) confirmed = last;
      }
      if (confirmed < BigInt(state.confirmed_id)) confirmed = BigInt(state.confirmed_id);
      if (state.candidate_settled) {
        await queryRows(tx,
          `UPDATE security_scan_state SET confirmed_id = $1, candidate_id = greatest($1, (SELECT coalesce(max(id), 0) FROM audit_events)), candidate_at = now() WHERE id = 1`,
          [confirmed.toString()],
        );
      }
      return { examined: rows.length, raised };
    });
    if (!outcome) return undefined;
    await this.events.alert(outcome.raised);
    return outcome.examined;
  }

  /**
   * A spike of failed payments: failed checkouts (declined cards, denied captures) of one
   * business within the window, counted from checkout_sessions. Raising again while the burst is
   * open only refreshes its count, so a spike stays one event and one alert.
   */
  async scanFailedPayments(): Promise<void> {
    const info = KIND_INFO.failed_payments_spike;
    const outcome = await withAdvisoryXactLock(this.dataSource, 'security.failed-payments', async (tx) => {
      const [present]: Array<{ ok: boolean }> = await tx.query(`SELECT to_regclass('checkout_sessions') IS NOT NULL AS ok`);
      if (!present?.ok) return [];
      const spikes: Array<{ business_id: string; n: number }> = await tx.query(
        `SELECT business_id, count(*)::int AS n FROM checkout_sessions
          WHERE status = 'failed' AND updated_at > now() - $1 * interval '1 millisecond'
          GROUP BY business_id HAVING count(*) >= $2`,
        [info.windowMs, info.threshold],
      );
      const raised: Raised[] = [];
      for (const spike of spikes) {
        raised.push(await this.events.raise(tx, {
          businessId: spike.business_id,
          kind: 'failed_payments_spike',
          subject: `business:${spike.business_id}`,
          summary: `${spike.n} payments failed within the last hour.`,
          detail: { inWindow: spike.n, windowMinutes: Math.round(info.windowMs! / 60_000) },
          occurrences: spike.n,
          joinOccurrences: 0,
        }));
      }
      return raised;
    });
    await this.events.alert(outcome);
  }

  private async process(tx: EntityManager, event: ScannedEvent, signal: Signal, occurredAt: Date, stale: boolean): Promise<Raised[]> {
    // Counted at the event's own time, so a backlog scanned at once is not mistaken for a burst.
    const inserted: Array<{ at: Date }> = await tx.query(
      `INSERT INTO security_signals (audit_event_id, kind, subject, ref, at) VALUES ($1, $2, $3, $4, least($5::timestamptz, now()))
       ON CONFLICT ON CONSTRAINT security_signals_event_key DO NOTHING RETURNING at`,
      [event.id, signal.kind, signal.subject, signal.ref ?? null, occurredAt],
    );
    if (inserted.length === 0 || stale) return [];
    const info = KIND_INFO[signal.kind];
    let occurrences = 1;
    if (signal.mode === 'threshold') {
      const [{ n }]: Array<{ n: number }> = await tx.query(
        `SELECT count(*)::int AS n FROM security_signals WHERE kind = $1 AND subject = $2 AND at > now() - $3 * interval '1 millisecond'`,
        [signal.kind, signal.subject, info.windowMs],
      );
      if (n < info.threshold!) return [];
      occurrences = n;
    }
    const out: Raised[] = [];
    for (const businessId of await this.businessesFor(tx, signal)) {
      out.push(await this.events.raise(tx, {
        businessId,
        kind: signal.kind,
        subject: signal.subject,
        summary: signal.summary,
        detail: { ...signal.detail, ...(signal.mode === 'threshold' ? { inWindow: occurrences, windowMinutes: Math.round(info.windowMs! / 60_000) } : {}) },
        occurrences,
      }));
    }
    return out;
  }

  /** Whose admins hear about it: the business, the account's businesses, or those of the accounts an address targeted. */
  private async businessesFor(tx: EntityManager, signal: Signal): Promise<Array<string | null>> {
    if (signal.scope.type === 'business') return [signal.scope.businessId];
    let userIds: string[];
    if (signal.scope.type === 'user-businesses') {
      userIds = [signal.scope.userId];
    } else {
      const refs: Array<{ ref: string }> = await tx.query(
        `SELECT DISTINCT ref FROM security_signals WHERE kind = $1 AND subject = $2 AND ref IS NOT NULL AND at > now() - $3 * interval '1 millisecond'`,
        [signal.kind, signal.subject, KIND_INFO[signal.kind].windowMs],
      );
      userIds = refs.map((row) => row.ref).filter((ref) => /^[0-9a-f-]{36}$/.test(ref));
    }
    if (userIds.length === 0) return [null];
    const rows: Array<{ business_id: string }> = await tx.query(
      `SELECT DISTINCT m.business_id FROM memberships m JOIN businesses b ON b.id = m.business_id
        WHERE m.user_id = ANY($1::uuid[]) AND b.closed_at IS NULL ORDER BY m.business_id`,
      [userIds],
    );
    return rows.length > 0 ? rows.map((row) => row.business_id) : [null];
  }

  private async cleanup(): Promise<void> {
    await this.dataSource.query(`DELETE FROM security_signals WHERE at < now() - interval '1 day'`);
    await this.dataSource.query('DELETE FROM security_bursts WHERE open_until < now()');
  }
}
