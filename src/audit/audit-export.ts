import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { DEFAULT_LIMIT, decodeCursor, encodeCursor, type Page } from '../common/pagination/cursor.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SecurityEvents } from '../security/security-events.service.js';
import { canonicalJson, chainHash, GENESIS_HASH, type ChainedEvent, type ChainVerification } from './audit-chain.js';
import { AuditService } from './audit.service.js';
import { CustomerPiiKeys, type RevealedPersonalData } from './customer-pii-keys.js';

/**
 * The audit trail as an auditor sees it: a filtered, paginated list, a verification that also
 * understands retention purges, and a signed export that can be checked offline.
 *
 * Export format (`ledgerline-audit-export.v1`, media type application/x-ndjson): one line per
 * event, oldest first, each the canonical JSON (keys sorted) of
 *   { id, businessId, seq, occurredAt, actorType, actorId, action, entityType, entityId, ip,
 *     userAgent, detail, prevHash, hash }     (hashes in lower-case hex)
 * exactly as stored, so every hash can be recomputed: the IP and browser of a customer's own
 * actions are in their sealed form (`pii1.…`, see personal-data-seal.ts), readable in the audit
 * list while the customer's key exists and by no one after the customer's erasure.
 * followed by ONE last line, the detached signature:
 *   { "type": "signature", "format", "algorithm": "Ed25519", "keyId", "publicKey", "statement", "signature" }
 * `statement` is a small text (below) that names the business, the anchor the chain starts from
 * (genesis, or the last event removed by a retention purge), the chain head, the number of
 * events and the SHA-256 of the exact bytes of every line before the signature line;
 * `signature` is the base64 Ed25519 signature of the statement's UTF-8 bytes. `publicKey` is
 * informational: check against the key fetched beforehand from GET /v1/audit-events/export/public-key
 * (or published by the operator), never against the one inside the file.
 *
 * Offline check (Node 20, no dependencies):
 *   node scripts/verify-audit-export.mjs --public-key audit-export-public-key.pem audit-export.jsonl
 * It verifies the signature, the events digest, every event's hash (sha256(prevHash ‖ canonical
 * event), as in audit-chain.ts), the links between events, the anchor and the head. The
 * signature alone can also be checked with OpenSSL 3:
 *   tail -n 1 audit-export.jsonl | jq -j .statement > statement.txt
 *   tail -n 1 audit-export.jsonl | jq -r .signature | base64 -d > statement.sig
 *   openssl pkeyutl -verify -pubin -inkey audit-export-public-key.pem -rawin -in statement.txt -sigfile statement.sig
 *   head -n -1 audit-export.jsonl | sha256sum     # equals the events-sha256 line of statement.txt
 *
 * The signing key is Ed25519, derived (HKDF-SHA256) from JWT_SECRET with a purpose label, so it
 * needs no new secret and changes only when JWT_SECRET is rotated; its key id is a fingerprint
 * of the public key, so an auditor can tell which key signed an old export.
 */
export const EXPORT_FORMAT = 'ledgerline-audit-export.v1';
const KEY_INFO = 'ledgerline/audit-export-signing-key/v1';
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const EXPORT_BATCH = 1000;
const SYSTEM_CHAIN = '00000000-0000-0000-0000-000000000000';

export interface ExportSigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  /** The 32-byte raw public key, base64. */
  publicKeyRaw: string;
}

/** The Ed25519 export key derived from a server secret (deterministic: every process derives the same). */
export function deriveExportKey(secret: string): ExportSigningKey {
  const seed = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('ledgerline', 'utf8'), Buffer.from(KEY_INFO, 'utf8'), 32));
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return {
    keyId: `ed25519-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`,
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicKeyRaw: raw.toString('base64'),
  };
}

/** A stored event as the export (and the offline verifier) sees it: the chained fields, time in ISO 8601, hashes in hex. */
export type ExportedEvent = Omit<ChainedEvent, 'occurredAt'> & { id: string; occurredAt: string; prevHash: string; hash: string };

export interface StoredEventRow {
  id: string;
  business_id: string | null;
  seq: string;
  occurred_at: Date;
  actor_type: string;
  actor_id: string | null;
  action: string;
  entity_type: string | null;
  entity_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown>;
  prev_hash: Buffer;
  hash: Buffer;
}

export function chainedEvent(row: StoredEventRow): ChainedEvent & { id: string; prevHash: Buffer; hash: Buffer } {
  return {
    id: String(row.id),
    businessId: row.business_id,
    seq: String(row.seq),
    occurredAt: row.occurred_at,
    actorType: row.actor_type,
    actorId: row.actor_id,
    action: row.action,
    entityType: row.entity_type,
    entityId: row.entity_id,
    ip: row.ip,
    userAgent: row.user_agent,
    detail: row.detail,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function exportedEvent(row: StoredEventRow): ExportedEvent {
  const event = chainedEvent(row);
  return { ...event, occurredAt: event.occurredAt.toISOString(), prevHash: event.prevHash.toString('hex'), hash: event.hash.toString('hex') };
}

export interface ChainPoint {
  seq: string;
  hash: string;
}

export interface ExportStatementInput {
  businessId: string;
  anchor: ChainPoint;
  head: ChainPoint;
  events: number;
  eventsSha256: string;
  generatedAt: string;
  keyId: string;
}

/** The signed text. One `name value` pair per line, fixed order, so it can be read and diffed by hand. */
export function exportStatement(input: ExportStatementInput): string {
  return [
    EXPORT_FORMAT,
    `business ${input.businessId}`,
    `anchor-seq ${input.anchor.seq}`,
    `anchor-hash ${input.anchor.hash}`,
    `head-seq ${input.head.seq}`,
    `head-hash ${input.head.hash}`,
    `events ${input.events}`,
    `events-sha256 ${input.eventsSha256}`,
    `generated-at ${input.generatedAt}`,
    `key-id ${input.keyId}`,
  ].join('\n');
}

export function parseStatement(statement: string): Record<string, string> | undefined {
  const lines = statement.split('\n');
  if (lines[0] !== EXPORT_FORMAT) return undefined;
  const out: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const space = line.indexOf(' ');
    if (space <= 0) return undefined;
    out[line.slice(0, space)] = line.slice(space + 1);
  }
  return out;
}

/** Builds the whole export file from the event lines. */
export function buildExport(lines: string[], input: Omit<ExportStatementInput, 'events' | 'eventsSha256' | 'keyId'>, key: ExportSigningKey): { body: string; statement: string; signature: string } {
  const eventsText = lines.map((line) => `${line}\n`).join('');
  const statement = exportStatement({ ...input, events: lines.length, eventsSha256: createHash('sha256').update(eventsText, 'utf8').digest('hex'), keyId: key.keyId });
  const signature = sign(null, Buffer.from(statement, 'utf8'), key.privateKey).toString('base64');
  const signatureLine = canonicalJson({ type: 'signature', format: EXPORT_FORMAT, algorithm: 'Ed25519', keyId: key.keyId, publicKey: key.publicKeyRaw, statement, signature });
  return { body: `${eventsText}${signatureLine}\n`, statement, signature };
}

export function verifyStatementSignature(statement: string, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(statement, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Like `ChainVerifier`, but starting from a given point: genesis (seq 0, zero hash) for a whole
 * chain, or the anchor a retention purge left (the seq and hash of the last removed event).
 */
export class AnchoredChainVerifier {
  private previous: Buffer;
  private expectedSeq: bigint;
  checked = 0;
  firstBrokenId?: string;

  constructor(start: { seq: bigint; hash: Buffer } = { seq: 0n, hash: GENESIS_HASH }) {
    this.previous = start.hash;
    this.expectedSeq = start.seq + 1n;
  }

  accept(row: ChainedEvent & { id: string; prevHash: Buffer; hash: Buffer }): boolean {
    if (this.firstBrokenId) return false;
    this.checked += 1;
    const ok = BigInt(row.seq) === this.expectedSeq && row.prevHash.equals(this.previous) && row.hash.equals(chainHash(row.prevHash, row));
    if (!ok) {
      this.firstBrokenId = row.id;
      return false;
    }
    this.previous = row.hash;
    this.expectedSeq += 1n;
    return true;
  }

  /** Marks a row as broken without checking it (e.g. a chain that starts where no anchor explains). */
  reject(id: string): void {
    if (this.firstBrokenId) return;
    this.checked += 1;
    this.firstBrokenId = id;
  }

  result(): ChainVerification {
    return this.firstBrokenId ? { valid: false, checked: this.checked, firstBrokenId: this.firstBrokenId } : { valid: true, checked: this.checked };
  }
}

export interface AuditEventView {
  id: string;
  seq: string;
  occurredAt: string;
  actor: { type: string; id: string | null };
  action: string;
  entity: { type: string; id: string } | null;
  /** A customer's IP and browser are shown opened from their sealed form while the customer's key exists. */
  ip: string | null;
  userAgent: string | null;
  /** True when the event held a customer's IP or browser and that customer's data has been erased. */
  personalDataErased: boolean;
  detail: Record<string, unknown>;
  hash: string;
}

export interface AuditListQuery {
  limit?: number;
  cursor?: string;
  actorId?: string;
  actorType?: string;
  action?: string;
  entityType?: string;
  entityId?: string;
  from?: string;
  to?: string;
}

const LIST_SORT = 'seq_desc';
const COLUMNS = 'id::text AS id, business_id, seq::text AS seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail, prev_hash, hash';

/**
 * The HTTP-facing audit trail of one business (the chain itself is written by AuditService).
 * Verification and export fold the audit inbox first, so they cover every event recorded so far.
 */
@Injectable()
export class AuditTrailService {
  private readonly key: ExportSigningKey;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly audit: AuditService,
    private readonly security: SecurityEvents,
    private readonly piiKeys: CustomerPiiKeys,
  ) {
    this.key = deriveExportKey(config.jwtSecret);
  }

  get signingKey(): ExportSigningKey {
    return this.key;
  }

  /** Newest first; billing members see only their own actions (the caller passes the forced actor). */
  async list(principal: Principal, query: AuditListQuery): Promise<Page<AuditEventView>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    let beforeSeq: string | null = null;
    if (query.cursor !== undefined) {
      [beforeSeq] = decodeCursor(query.cursor, LIST_SORT, 1);
      if (!/^[1-9]\d{0,18}$/.test(beforeSeq)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not a cursor returned by this list' }]);
    }
    const from = query.from === undefined ? null : new Date(query.from);
    const to = query.to === undefined ? null : new Date(query.to);
    if (from && to && from > to) throw AppError.validation([{ field: 'from', code: 'invalid_range', message: 'from must not be after to' }]);
    const ownOnly = principal.role !== 'admin';
    let action: string | null = null;
    let actionPrefix: string | null = null;
    if (query.action?.endsWith('.*')) actionPrefix = `${query.action.slice(0, -2).replace(/[\\%_]/g, (char) => `\\${char}`)}.%`;
    else action = query.action ?? null;
    const params: unknown[] = [
      principal.businessId, beforeSeq, ownOnly ? 'user' : (query.actorType ?? null), ownOnly ? principal.userId : null, query.actorId ?? null,
      action, actionPrefix, query.entityType ?? null, query.entityId ?? null, from, to, limit + 1,
    ];
    const rows: StoredEventRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM audit_events
        WHERE business_id = $1
          AND ($2::bigint IS NULL OR seq < $2::bigint)
          AND ($3::text IS NULL OR actor_type = $3)
          AND ($4::text IS NULL OR actor_id = $4)
          AND ($5::text IS NULL OR actor_id = $5)
          AND ($6::text IS NULL OR action = $6)
          AND ($7::text IS NULL OR action LIKE $7 ESCAPE '\\')
          AND ($8::text IS NULL OR entity_type = $8)
          AND ($9::text IS NULL OR entity_id = $9)
          AND ($10::timestamptz IS NULL OR occurred_at >= $10)
          AND ($11::timestamptz IS NULL OR occurred_at <= $11)
        ORDER BY audit_events.seq DESC
        LIMIT $12`,
      params,
    );
    const more = rows.length > limit;
    const kept = more ? rows.slice(0, limit) : rows;
    const personal = await this.piiKeys.reveal(principal.businessId.toLowerCase(), kept);
    return { data: kept.map((row, index) => eventView(row, personal[index])), nextCursor: more ? encodeCursor(LIST_SORT, [kept[kept.length - 1].seq]) : null };
  }

  /** Recomputes the chain (from genesis, or from the anchor a retention purge left). */
  async verify(businessId: string): Promise<ChainVerification> {
    await this.audit.foldInbox();
    return verifyStoredChain(this.dataSource, businessId);
  }

  async export(principal: Principal, meta: RequestMeta): Promise<{ body: string; filename: string; head: ChainPoint; events: number }> {
    await this.audit.foldInbox();
    const businessId = principal.businessId.toLowerCase();
    const anchor = await chainStart(this.dataSource, businessId);
    const lines: string[] = [];
    let head: ChainPoint = { seq: anchor.seq.toString(), hash: anchor.hash.toString('hex') };
    let after = '0';
    for (;;) {
      const rows: StoredEventRow[] = await this.dataSource.query(
        `SELECT ${COLUMNS} FROM audit_events WHERE business_id = $1 AND seq > $2 ORDER BY audit_events.seq ASC LIMIT ${EXPORT_BATCH}`,
        [businessId, after],
      );
      for (const row of rows) {
        lines.push(canonicalJson(exportedEvent(row)));
        head = { seq: String(row.seq), hash: row.hash.toString('hex') };
      }
      if (rows.length < EXPORT_BATCH) break;
      after = String(rows[rows.length - 1].seq);
    }
    const generatedAt = new Date().toISOString();
    const built = buildExport(lines, { businessId, anchor: { seq: anchor.seq.toString(), hash: anchor.hash.toString('hex') }, head, generatedAt }, this.key);
    const raised = await this.dataSource.transaction(async (tx) => {
      await this.audit.record(
        {
          businessId,
          actor: { type: 'user', id: principal.userId },
          action: 'audit.exported',
          entity: { type: 'business', id: businessId },
          detail: { headSeq: head.seq, headHash: head.hash, events: lines.length, keyId: this.key.keyId },
          ...meta,
        },
        tx,
      );
      return this.security.raise(tx, {
        businessId,
        kind: 'data_exported',
        subject: 'audit_trail',
        summary: 'The audit trail was exported.',
        detail: { what: 'audit_trail', by: principal.userId, events: lines.length },
      });
    });
    await this.security.alert(raised);
    return { body: built.body, filename: `audit-${businessId}-${head.seq}.jsonl`, head, events: lines.length };
  }
}

function eventView(row: StoredEventRow, personal: RevealedPersonalData): AuditEventView {
  return {
    id: String(row.id),
    seq: String(row.seq),
    occurredAt: row.occurred_at.toISOString(),
    actor: { type: row.actor_type, id: row.actor_id },
    action: row.action,
    entity: row.entity_type && row.entity_id ? { type: row.entity_type, id: row.entity_id } : null,
    ip: personal.ip,
    userAgent: personal.userAgent,
    personalDataErased: personal.personalDataErased,
    detail: row.detail,
    hash: row.hash.toString('hex'),
  };
}

type Runner = Pick<DataSource, 'query'>;

/**
 * Where a chain's verification starts: genesis while its first event (seq 1) is still there,
 * otherwise the anchor a retention purge wrote (which must end exactly before the first remaining event).
 */
export async function chainStart(runner: Runner, businessId: string | null): Promise<{ seq: bigint; hash: Buffer; firstSeq: bigint | null; consistent: boolean }> {
  const [first]: Array<{ seq: string }> = await runner.query(
    `SELECT seq::text AS seq FROM audit_events WHERE ${businessId === null ? 'business_id IS NULL AND $1::uuid IS NULL' : 'business_id = $1'} ORDER BY audit_events.seq ASC LIMIT 1`,
    [businessId],
  );
  const firstSeq = first ? BigInt(first.seq) : null;
  if (firstSeq === null || firstSeq === 1n) return { seq: 0n, hash: GENESIS_HASH, firstSeq, consistent: true };
  const [anchor]: Array<{ through_seq: string; through_hash: Buffer }> = await runner.query(
    'SELECT through_seq::text AS through_seq, through_hash FROM audit_chain_anchors WHERE chain_id = $1',
    [businessId ?? SYSTEM_CHAIN],
  );
  if (!anchor || BigInt(anchor.through_seq) !== firstSeq - 1n) return { seq: 0n, hash: GENESIS_HASH, firstSeq, consistent: false };
  return { seq: BigInt(anchor.through_seq), hash: anchor.through_hash, firstSeq, consistent: true };
}

/** The chain verification that understands retention anchors. Empty chain: valid, 0 checked. */
export async function verifyStoredChain(runner: Runner, businessId: string | null): Promise<ChainVerification> {
  businessId = businessId?.toLowerCase() ?? null;
  const start = await chainStart(runner, businessId);
  const verifier = new AnchoredChainVerifier(start);
  let after = '0';
  const filter = businessId === null ? 'business_id IS NULL AND $1::uuid IS NULL' : 'business_id = $1';
  for (;;) {
    const rows: StoredEventRow[] = await runner.query(
      `SELECT ${COLUMNS} FROM audit_events WHERE ${filter} AND seq > $2 ORDER BY audit_events.seq ASC LIMIT ${EXPORT_BATCH}`,
      [businessId, after],
    );
    for (const row of rows) {
      if (!start.consistent) {
        // The chain does not start at 1 and no anchor explains the missing prefix: events were removed.
        verifier.reject(String(row.id));
        return verifier.result();
      }
      if (!verifier.accept(chainedEvent(row))) return verifier.result();
    }
    if (rows.length < EXPORT_BATCH) return verifier.result();
    after = String(rows[rows.length - 1].seq);
  }
}
