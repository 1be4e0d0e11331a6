import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The bearer token that guards GET /metrics on the API port. It is derived from JWT_SECRET
 * (HMAC-SHA256 with a purpose label), so there is no new secret to provision and it rotates
 * with JWT_SECRET. Print it for Prometheus with `node dist/src/security/metrics-token-cli.js`
 * and give it to the scrape job as `authorization: { credentials_file: … }`.
 */
const PURPOSE = 'ledgerline/metrics-bearer-token/v1';

export function metricsToken(jwtSecret: string): string {
  return createHmac('sha256', jwtSecret).update(PURPOSE, 'utf8').digest('base64url');
}

/** Constant-time check of an `Authorization` header against the token. */
export function authorizesMetrics(header: unknown, token: string): boolean {
  if (typeof header !== 'string') return false;
  const match = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1], 'utf8');
  const expected = Buffer.from(token, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
