import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** An opaque random token (256 bits) in base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Tokens are stored only as their SHA-256. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Refresh tokens carry their session (= token family) id so limits can be kept per family. */
export function newRefreshToken(sessionId: string): string {
  return `${sessionId}.${randomToken()}`;
}

export function sessionIdOfRefreshToken(token: string): string | undefined {
  const [sessionId] = token.split('.', 1);
  return /^[0-9a-f-]{36}$/.test(sessionId) ? sessionId : undefined;
}

/** The CSRF token of a session: HMAC(secret, session id). Nothing to store, bound to the session. */
export function csrfTokenFor(secret: string, sessionId: string): string {
  return createHmac('sha256', secret).update(`csrf:${sessionId}`).digest('base64url');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
