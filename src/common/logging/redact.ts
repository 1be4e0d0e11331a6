/**
 * Redaction applied to every log line and every error report before it leaves the process.
 * Keys are matched by name anywhere in the object; string values are scanned for
 * card-number-like digit runs, bearer credentials, JWTs and secret-bearing URL parameters.
 */
export const REDACTED = '[REDACTED]';

const SENSITIVE_KEY =
  /(authorization|cookie|password|passwd|passphrase|secret|token|signature|api[-_]?key|private[-_]?key|credential|csrf|otp|mfa[-_]?code|recovery[-_]?code|card[-_]?number|cvc|cvv|^pan$|^t$)/i;

// 13 to 19 digits, optionally separated by single spaces or dashes: the shape of a card number.
// A uuid is matched first and kept: its digit-only groups (1 uuid in 800) have the same shape.
const CARD_LIKE = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b\d(?:[ -]?\d){12,18}\b/gi;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
// Signed-link and reset-token query parameters.
const SECRET_PARAM = /([?&](?:t|token|code|signature|sig|key|secret|password)=)[^&#\s"]*/gi;
// A value next to a secret-sounding name inside free text: JSON embedded in a message
// ("password":"…"), SQL (token = '…'), key=value and key: value.
const SECRET_PAIR =
  /(["']?\b[\w-]*?(?:password|passwd|passphrase|secret|token|api[-_]?key|private[-_]?key|credential|signature)[\w-]*["']?\s*[:=]\s*)(?!"?\[REDACTED\])("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&#"'{}[\]()]+)/gi;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

export function redactString(value: string): string {
  if (value.length < 13 && !value.includes('=') && !/bearer|basic/i.test(value)) return value;
  return value
    .replace(JWT, REDACTED)
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(SECRET_PARAM, `$1${REDACTED}`)
    .replace(SECRET_PAIR, (_match, head: string, secret: string) => `${head}${secret[0] === '"' || secret[0] === "'" ? `${secret[0]}${REDACTED}${secret[0]}` : REDACTED}`)
    .replace(CARD_LIKE, (match) => (UUID.test(match) ? match : REDACTED));
}

/** Returns a redacted deep copy; never mutates its input. Cycles and depth are bounded. */
export function redact<T>(value: T, depth = 0, seen: WeakMap<object, unknown> = new WeakMap()): T {
  if (typeof value === 'string') return redactString(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12) return '[DEPTH]' as T;
  // Seen before: still being copied means a cycle; already copied means a shared reference,
  // which keeps its (redacted) copy rather than being mislabelled as circular.
  if (seen.has(value as object)) return (seen.get(value as object) ?? '[CIRCULAR]') as T;
  seen.set(value as object, undefined);
  const copy = redactObject(value as object, depth, seen);
  seen.set(value as object, copy);
  return copy as T;
}

function redactObject(value: object, depth: number, seen: WeakMap<object, unknown>): unknown {
  if (Buffer.isBuffer(value)) return `[BUFFER ${value.length} bytes]`;
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
  if (value instanceof Error) {
    return redact({ type: value.name, message: value.message, stack: value.stack, code: (value as { code?: unknown }).code }, depth + 1, seen);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] = isSensitiveKey(key) && item !== undefined && item !== null && item !== '' ? REDACTED : redact(item, depth + 1, seen);
  }
  return out;
}

/**
 * A client address as log lines carry it: the network, not the host (IPv4 /24, IPv6 /48), so a
 * log line does not identify a person (a customer may have their data erased; shipped logs
 * cannot be edited). Full addresses are kept where they are needed and governed: a member's in
 * the audit trail, a customer's sealed under their own key (src/audit/personal-data-seal.ts).
 */
export function logAddress(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1] : ip;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(address);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (address.includes(':')) {
    // The first three groups written before any `::` (missing ones are zero), without leading zeros.
    const groups = address.split('::')[0].split(':').filter(Boolean);
    const kept = [0, 1, 2].map((index) => (groups[index] ?? '0').toLowerCase().replace(/^0+(?=.)/, ''));
    return `${kept.join(':')}::/48`;
  }
  return '[address]';
}
