import { createHash } from 'node:crypto';

/** The fields that are hashed; everything a reader relies on is covered. */
export interface ChainedEvent {
  businessId: string | null;
  seq: string;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  action: string;
  entityType: string | null;
  entityId: string | null;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown>;
}

export const GENESIS_HASH: Buffer = Buffer.alloc(32);

/** JSON with object keys sorted at every level, so the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

/** hash = sha256(prev_hash || canonical event) */
export function chainHash(prevHash: Buffer, event: ChainedEvent): Buffer {
  const canonical = canonicalJson({
    action: event.action,
    actorId: event.actorId,
    actorType: event.actorType,
    businessId: event.businessId,
    detail: event.detail,
    entityId: event.entityId,
    entityType: event.entityType,
    ip: event.ip,
    occurredAt: event.occurredAt.toISOString(),
    seq: event.seq,
    userAgent: event.userAgent,
  });
  return createHash('sha256').update(prevHash).update(canonical, 'utf8').digest();
}

export interface ChainVerification {
  valid: boolean;
  checked: number;
  firstBrokenId?: string;
}

/**
 * Walks rows in seq order. Stateful so a caller can feed a long chain in batches.
 */
export class ChainVerifier {
  private previous: Buffer = GENESIS_HASH;
  private expectedSeq = 1n;
  checked = 0;
  firstBrokenId?: string;

  accept(row: ChainedEvent & { id: string; prevHash: Buffer; hash: Buffer }): boolean {
    if (this.firstBrokenId) return false;
    this.checked += 1;
    const ok =
      BigInt(row.seq) === this.expectedSeq &&
      row.prevHash.equals(this.previous) &&
      row.hash.equals(chainHash(row.prevHash, row));
    if (!ok) {
      this.firstBrokenId = row.id;
      return false;
    }
    this.previous = row.hash;
    this.expectedSeq += 1n;
    return true;
  }

  result(): ChainVerification {
    return this.firstBrokenId ? { valid: false, checked: this.checked, firstBrokenId: this.firstBrokenId } : { valid: true, checked: this.checked };
  }
}
