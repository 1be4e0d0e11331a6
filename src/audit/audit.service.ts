import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { redact } from '../common/logging/redact.js';
import { inTransaction } from '../database/transaction.js';
import { ChainVerifier, chainHash, GENESIS_HASH, type ChainVerification } from './audit-chain.js';
import type { AuditActorType } from './audit-event.entity.js';

export interface AuditInput {
  businessId: string | null;
  actor: { type: AuditActorType; id?: string | null };
  action: string;
  entity?: { type: string; id: string };
  ip?: string | null;
  userAgent?: string | null;
  detail?: Record<string, unknown>;
}

const MAX_USER_AGENT = 512;

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
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async record(input: AuditInput, manager?: EntityManager): Promise<void> {
    // uuid columns come back lower-case; hash what will be read back.
    input = { ...input, businessId: input.businessId?.toLowerCase() ?? null };
    await inTransaction(this.dataSource, async (tx) => {
      const chainKey = input.businessId ?? 'system';
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`audit:${chainKey}`]);
      const head: Array<{ seq: string; hash: Buffer }> = await tx.query(
        `SELECT seq, hash FROM audit_events
          WHERE ${chainFilter(input.businessId)}
          ORDER BY seq DESC LIMIT 1`,
        [input.businessId],
      );
      const prevHash = head[0]?.hash ?? GENESIS_HASH;
      const event = {
        businessId: input.businessId,
        seq: String(BigInt(head[0]?.seq ?? '0') + 1n),
        occurredAt: new Date(),
        actorType: input.actor.type,
        actorId: input.actor.id ?? null,
        action: input.action,
        entityType: input.entity?.type ?? null,
        entityId: input.entity?.id ?? null,
        ip: input.ip ?? null,
        userAgent: input.userAgent ? input.userAgent.slice(0, MAX_USER_AGENT) : null,
        // The audit trail must never become a place where a secret is kept.
        detail: redact(input.detail ?? {}),
      };
      const hash = chainHash(prevHash, event);
      await tx.query(
        `INSERT INTO audit_events
           (business_id, seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          event.businessId,
          event.seq,
          event.occurredAt,
          event.actorType,
          event.actorId,
          event.action,
          event.entityType,
          event.entityId,
          event.ip,
          event.userAgent,
          JSON.stringify(event.detail),
          prevHash,
          hash,
        ],
      );
    }, manager);
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
