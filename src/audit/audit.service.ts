import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { redact } from '../common/logging/redact.js';
import { queryRows } from '../database/sql.js';
import { inTransaction } from '../database/transaction.js';
import { ChainVerifier, chainHash, GENESIS_HASH, type ChainVerification } from './audit-chain.js';
import { MAX_USER_AGENT, type AuditActorType } from './audit-event.entity.js';
import { CustomerPiiKeys } from './customer-pii-keys.js';
import { isSealed } from './personal-data-seal.js';

export interface AuditInput {
  businessId: string | null;
  actor: { type: AuditActorType; id?: string | null };
  action: string;
  entity?: { type: string; id: string };
  ip?: string | null;
  userAgent?: string | null;
  detail?: Record<string, unknown>;
  /** When it happened, if not now (events folded from the inbox keep their own time). */
  occurredAt?: Date;
}

/** Column list of the audit inbox, for `recordSoon` and for statements that log a read in the same round trip. */
export function inboxColumns(): string {
  return '(business_id, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail)';
}

/** Binds an event's values into `params` and returns the placeholders, in `inboxColumns()` order. */
export function inboxValues(input: AuditInput, params: unknown[]): string {
  const values = [
    input.businessId?.toLowerCase() ?? null, input.actor.type, input.actor.id ?? null, input.action, input.entity?.type ?? null, input.entity?.id ?? null,
    storedIp(input), storedUserAgent(input), JSON.stringify(redact(input.detail ?? {})),
  ];
  // Casts, so the placeholders also type-check in INSERT … SELECT (where PostgreSQL cannot infer them).
  const types = ['uuid', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb'];
  return values.map((value, index) => `$${params.push(value)}::${types[index]}`).join(', ');
}

/**
 * IP and browser as stored. A customer's are kept only sealed (CustomerPiiKeys.seal): a plain
 * value of a customer event is dropped, whichever path it came by. A sealed browser is not cut
 * (that would destroy it; it was cut before sealing).
 */
function storedIp(input: AuditInput): string | null {
  if (!input.ip) return null;
  return input.actor.type === 'customer' && !isSealed(input.ip) ? null : input.ip;
}
function storedUserAgent(input: AuditInput): string | null {
  const userAgent = input.userAgent;
  if (!userAgent) return null;
  if (isSealed(userAgent)) return userAgent;
  return input.actor.type === 'customer' ? null : userAgent.slice(0, MAX_USER_AGENT);
}

/** Keeps the chain lookup on the (business_id, seq) index; `$1` is always bound. */
function chainFilter(businessId: string | null): string {
  return businessId === null ? '(business_id IS NULL AND $1::uuid IS NULL)' : 'business_id = $1';
}
const VERIFY_BATCH = 1000;

/**
 * The append-only audit log. `record` joins the caller's transaction so an event is written
 * exactly when the change it describes commits. Appends to one chain are serialised with a
 * transaction-scoped advisory lock; the database itself refuses UPDATE, DELETE and TRUNCATE.
 */
@Injectable()
export class AuditService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly piiKeys: CustomerPiiKeys,
  ) {}

  /**
   * A customer's IP and browser are sealed under that customer's key before they reach the
   * inbox or the chain (so an erasure can make them unreadable); see customer-pii-keys.ts.
   */
  async record(input: AuditInput, manager?: EntityManager): Promise<void> {
    await inTransaction(this.dataSource, async (tx) => this.append(tx, input.businessId?.toLowerCase() ?? null, [await this.piiKeys.seal(input, tx)]), manager);
  }

  /**
   * For high-volume read events (a document viewed, a link opened): one plain INSERT into the
   * audit inbox, no chain lock, so reads never queue behind each other. The worker folds the
   * inbox into the hash chain within about a second, keeping each event's own time. Use
   * `record` for every change: it joins the change's transaction.
   */
  async recordSoon(input: AuditInput, runner: Pick<EntityManager, 'query'> = this.dataSource): Promise<void> {
    const params: unknown[] = [];
    const stored = await this.piiKeys.seal(input, runner);
    await runner.query(`INSERT INTO audit_inbox ${inboxColumns()} VALUES (${inboxValues(stored, params)})`, params);
  }

  /** Moves inbox events into their chains, oldest first, in batches. Returns how many moved. */
  async foldInbox(batch = 500): Promise<number> {
    const owners: Array<{ business_id: string | null }> = await this.dataSource.query('SELECT DISTINCT business_id FROM audit_inbox');
    let moved = 0;
    for (const { business_id: businessId } of owners) {
      for (;;) {
        const count = await this.dataSource.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`audit:${businessId ?? 'system'}`]);
          const rows: Array<{ occurred_at: Date; actor_type: AuditActorType; actor_id: string | null; action: string; entity_type: string | null; entity_id: string | null; ip: string | null; user_agent: string | null; detail: Record<string, unknown> }> =
            await queryRows(tx,
              `DELETE FROM audit_inbox WHERE id IN (
                 SELECT id FROM audit_inbox WHERE business_id IS NOT DISTINCT FROM $1::uuid ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED)
               RETURNING occurred_at, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail`,
              [businessId],
            );
          rows.sort((a, b) => a.occurred_at.getTime() - b.occurred_at.getTime());
          await this.append(tx, businessId, rows.map((row) => ({
            businessId, occurredAt: row.occurred_at, actor: { type: row.actor_type, id: row.actor_id }, action: row.action,
            entity: row.entity_type && row.entity_id ? { type: row.entity_type, id: row.entity_id } : undefined, ip: row.ip, userAgent: row.user_agent, detail: row.detail,
          })), { locked: true });
          return rows.length;
        });
        moved += count;
        if (count < batch) break;
      }
    }
    return moved;
  }

  /** Appends events to one chain inside `tx`: one lock, one head read, one multi-row insert. */
  private async append(tx: EntityManager, businessId: string | null, inputs: AuditInput[], options: { locked?: boolean } = {}): Promise<void> {
    if (inputs.length === 0) return;
    if (!options.locked) await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`audit:${businessId ?? 'system'}`]);
    const head: Array<{ seq: string; hash: Buffer }> = await tx.query(
      `SELECT seq, hash FROM audit_events
        WHERE ${chainFilter(businessId)}
        ORDER BY seq DESC LIMIT 1`,
      [businessId],
    );
    let prevHash = head[0]?.hash ?? GENESIS_HASH;
    let seq = BigInt(head[0]?.seq ?? '0');
    const params: unknown[] = [];
    const values: string[] = [];
    for (const input of inputs) {
      seq += 1n;
      const event = {
        businessId,
        seq: String(seq),
        occurredAt: input.occurredAt ?? new Date(),
        actorType: input.actor.type,
        actorId: input.actor.id ?? null,
        action: input.action,
        entityType: input.entity?.type ?? null,
        entityId: input.entity?.id ?? null,
        ip: storedIp(input),
        userAgent: storedUserAgent(input),
        // The audit trail must never become a place where a secret is kept.
        detail: redact(input.detail ?? {}),
      };
      const hash = chainHash(prevHash, event);
      const row = [event.businessId, event.seq, event.occurredAt, event.actorType, event.actorId, event.action, event.entityType, event.entityId, event.ip, event.userAgent, JSON.stringify(event.detail), prevHash, hash];
      values.push(`(${row.map((value) => `$${params.push(value)}`).join(', ')})`);
      prevHash = hash;
    }
    await tx.query(
      `INSERT INTO audit_events
         (business_id, seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail, prev_hash, hash)
       VALUES ${values.join(', ')}`,
      params,
    );
  }

  /** Recomputes a business's chain from the first event; reports the first row that does not fit. */
  async verifyChain(businessId: string | null): Promise<ChainVerification> {
    businessId = businessId?.toLowerCase() ?? null;
    const verifier = new ChainVerifier();
    let after = '0';
    for (;;) {
      const rows: Array<Record<string, unknown>> = await this.dataSource.query(
        `SELECT id, business_id, seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id,
                ip, user_agent, detail, prev_hash, hash
           FROM audit_events
          WHERE ${chainFilter(businessId)} AND seq > $2
          ORDER BY seq ASC LIMIT ${VERIFY_BATCH}`,
        [businessId, after],
      );
      for (const row of rows) {
        const ok = verifier.accept({
          id: String(row.id),
          businessId: row.business_id as string | null,
          seq: String(row.seq),
          occurredAt: row.occurred_at as Date,
          actorType: row.actor_type as string,
          actorId: row.actor_id as string | null,
          action: row.action as string,
          entityType: row.entity_type as string | null,
          entityId: row.entity_id as string | null,
          ip: row.ip as string | null,
          userAgent: row.user_agent as string | null,
          detail: row.detail as Record<string, unknown>,
          prevHash: row.prev_hash as Buffer,
          hash: row.hash as Buffer,
        });
        if (!ok) return verifier.result();
      }
      if (rows.length < VERIFY_BATCH) return verifier.result();
      after = String(rows[rows.length - 1].seq);
    }
  }

  /** Businesses (and the system chain, as null) that have audit events. */
  async chainOwners(): Promise<Array<string | null>> {
    const rows: Array<{ business_id: string | null }> = await this.dataSource.query('SELECT DISTINCT business_id FROM audit_events');
    return rows.map((row) => row.business_id);
  }
}
