import type { FastifyReply } from 'fastify';
import { ACCESS_COOKIE, ACCESS_TOKEN_TTL_SECONDS, REFRESH_COOKIE } from './access-tokens.js';
import { SESSION_ABSOLUTE_DAYS, type IssuedSession } from './sessions.service.js';

const COOKIE_BASE = { httpOnly: true, secure: true, sameSite: 'strict' as const, path: '/' };

/**
 * The two client kinds: mobile gets its tokens in the body (kept in the device keychain); the
 * web dashboard gets `__Host-` cookies (HttpOnly, Secure, SameSite=Strict, Path=/) and only the
 * CSRF token in the body, which it echoes in the X-CSRF-Token header.
 */
export function sessionBody(reply: FastifyReply, session: IssuedSession): Record<string, unknown> {
  const common = { userId: session.userId, businessId: session.businessId, role: session.role, expiresIn: session.expiresIn };
  if (session.client === 'mobile') {
    return { ...common, accessToken: session.accessToken, refreshToken: session.refreshToken };
  }
  reply.setCookie(ACCESS_COOKIE, session.accessToken, { ...COOKIE_BASE, maxAge: ACCESS_TOKEN_TTL_SECONDS });
  reply.setCookie(REFRESH_COOKIE, session.refreshToken, { ...COOKIE_BASE, maxAge: SESSION_ABSOLUTE_DAYS * 24 * 3600 });
  return { ...common, csrfToken: session.csrfToken };
}

export function clearSessionCookies(reply: FastifyReply): void {
  reply.clearCookie(ACCESS_COOKIE, COOKIE_BASE);
  reply.clearCookie(REFRESH_COOKIE, COOKIE_BASE);
}

export function refreshTokenFrom(body: { refreshToken?: string } | undefined, cookies: Record<string, string | undefined> | undefined): string | undefined {
  return body?.refreshToken || cookies?.[REFRESH_COOKIE] || undefined;
}
