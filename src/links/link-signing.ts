/**
 * Signed public links, as pure functions (no database, no clock unless given one).
 *
 *   /pay/<invoiceId>?t=<signature>&d=<day>&e=<epoch>
 *   /estimate/<estimateId>?t=<signature>&d=<day>&e=<epoch>
 *
 * `d` is the issue day (whole days since 1970-01-01 UTC), `e` the business's link epoch when
 * the link was made, and `t` the first 24 base64url characters (144 bits) of
 * HMAC-SHA256(key, "ledgerline-link.v1" ‖ kind ‖ documentId ‖ epoch ‖ day). Every part is
 * inside the MAC, so neither the day, the epoch, the document nor the kind can be changed.
 *
 * Why the epoch is in the URL: "revoke all links" bumps the business's epoch, which lives in the
 * database, and the signature must be checked before any database read. With `e` in the URL
 * the whole MAC is verified first (pure, constant time, every configured key); only an authentic
 * link reaches the database, where its `e` is compared with the business's current epoch
 * (different = revoked). A forged or altered link never causes a query.
 *
 * Keys: `LINK_SIGNING_KEYS` is ordered; the first signs, all verify. Rotation = add a new first
 * key, later remove the old one; removing a key at once invalidates every link it signed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AppConfig, KeyEntry } from '../config/config.js';

export const LINK_KINDS = ['pay', 'estimate'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/** Links live at most this many days after their issue day; a business may choose fewer. */
export const MAX_LINK_TTL_DAYS = 60;
export const MIN_LINK_TTL_DAYS = 1;
/** 24 base64url characters = 18 bytes = 144 bits of the HMAC. */
export const SIGNATURE_LENGTH = 24;
export const MS_PER_DAY = 86_400_000;

const DOMAIN = 'ledgerline-link.v1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{24}$/;
// Canonical non-negative integers: no sign, no leading zero, no exponent, bounded length.
const DAY = /^(0|[1-9]\d{0,6})$/;
const EPOCH = /^(0|[1-9]\d{0,9})$/;
const MAX_EPOCH = 2_147_483_647; // businesses.link_epoch is an integer column

export interface LinkClaims {
  kind: LinkKind;
  documentId: string;
  linkEpoch: number;
  day: number;
}

export interface SignedLink {
  claims: LinkClaims;
  signature: string;
}

/** Whole days since 1970-01-01 UTC. */
export function dayNumber(now: Date = new Date()): number {
  return Math.floor(now.getTime() / MS_PER_DAY);
}

/** A business's chosen lifetime, clamped to 1..60 days. */
export function effectiveTtlDays(ttlDays: number): number {
  if (!Number.isFinite(ttlDays)) return MAX_LINK_TTL_DAYS;
  return Math.min(MAX_LINK_TTL_DAYS, Math.max(MIN_LINK_TTL_DAYS, Math.trunc(ttlDays)));
}

/**
 * The instant a link stops working: the end of its last valid day (issue day + ttl), UTC. A
 * link issued at any time of day `d` works through day `d + ttl`, i.e. at least `ttl` days.
 */
export function linkExpiresAt(day: number, ttlDays: number): Date {
  return new Date((day + effectiveTtlDays(ttlDays) + 1) * MS_PER_DAY);
}

export function isExpired(day: number, ttlDays: number, now: Date = new Date()): boolean {
  return dayNumber(now) > day + effectiveTtlDays(ttlDays);
}

function message(claims: LinkClaims): string {
  return [DOMAIN, claims.kind, claims.documentId, String(claims.linkEpoch), String(claims.day)].join('\n');
}

function mac(claims: LinkClaims, secret: string): string {
  return createHmac('sha256', secret).update(message(claims), 'utf8').digest('base64url').slice(0, SIGNATURE_LENGTH);
}

/** The `t` value of a link. */
export function signLink(claims: LinkClaims, key: KeyEntry | string): string {
  return mac(claims, typeof key === 'string' ? key : key.secret);
}

/**
 * True when `signature` was made by any of `keys` for exactly these claims. Every key is tried
 * (no early exit, so the time taken does not say which key matched) and each comparison is
 * `timingSafeEqual` over two 24-byte buffers; a value of another length or alphabet is refused
 * before any MAC is computed.
 */
export function verifyLink(claims: LinkClaims, signature: string, keys: readonly KeyEntry[]): boolean {
  if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return false;
  const given = Buffer.from(signature, 'ascii');
  let ok = false;
  for (const key of keys) {
    const expected = Buffer.from(mac(claims, key.secret), 'ascii');
    // Both are 24 ASCII bytes here; the length check only guards timingSafeEqual's contract.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

/**
 * Reads a link from the route parameter and the query string, checking only the shape of each
 * part (canonical lower-case uuid, 24 base64url characters, canonical integers, each given
 * once). Nothing here proves authenticity: call `verifyLink` next. Other query parameters
 * (tracking tags a messaging app may add) are ignored.
 */
export function parseLink(kind: LinkKind, documentId: unknown, query: unknown): SignedLink | undefined {
  if (typeof documentId !== 'string' || !UUID.test(documentId)) return undefined;
  if (!query || typeof query !== 'object') return undefined;
  const { t, d, e } = query as Record<string, unknown>;
  if (typeof t !== 'string' || !SIGNATURE.test(t)) return undefined;
  if (typeof d !== 'string' || !DAY.test(d)) return undefined;
  if (typeof e !== 'string' || !EPOCH.test(e)) return undefined;
  const linkEpoch = Number(e);
  if (linkEpoch > MAX_EPOCH) return undefined;
  return { claims: { kind, documentId, linkEpoch, day: Number(d) }, signature: t };
}

/** Parses and verifies in one step; also refuses an issue day in the future (beyond one day of clock skew). */
export function authenticLink(kind: LinkKind, documentId: unknown, query: unknown, keys: readonly KeyEntry[], now: Date = new Date()): SignedLink | undefined {
  const link = parseLink(kind, documentId, query);
  if (!link || !verifyLink(link.claims, link.signature, keys)) return undefined;
  if (link.claims.day > dayNumber(now) + 1) return undefined;
  return link;
}

/** The path of a link's page, without the query. */
export function linkPath(kind: LinkKind, documentId: string): string {
  return `/${kind}/${documentId}`;
}

/** `?t=…&d=…&e=…` for signed claims. */
export function linkQuery(claims: LinkClaims, signature: string): string {
  return `?t=${signature}&d=${claims.day}&e=${claims.linkEpoch}`;
}

/** A signed, absolute URL for the claims, signed with the first (current) key. */
export function buildLinkUrl(config: Pick<AppConfig, 'baseUrl' | 'linkSigningKeys'>, claims: LinkClaims, ttlDays: number): { url: string; expiresAt: string } {
  const key = config.linkSigningKeys[0];
  if (!key) throw new Error('LINK_SIGNING_KEYS holds no key');
  const signature = signLink(claims, key);
  return { url: `${config.baseUrl}${linkPath(claims.kind, claims.documentId)}${linkQuery(claims, signature)}`, expiresAt: linkExpiresAt(claims.day, ttlDays).toISOString() };
}

/**
 * The one builder of document links: for the share endpoints, the fresh-link email, and
 * (later) the invoice and estimate emails. Issued today with the business's current epoch.
 */
export function documentLink(
  config: Pick<AppConfig, 'baseUrl' | 'linkSigningKeys'>,
  input: { kind: LinkKind; documentId: string; linkEpoch: number; ttlDays: number; now?: Date },
): { url: string; expiresAt: string } {
  const claims: LinkClaims = { kind: input.kind, documentId: input.documentId.toLowerCase(), linkEpoch: input.linkEpoch, day: dayNumber(input.now) };
  return buildLinkUrl(config, claims, input.ttlDays);
}
