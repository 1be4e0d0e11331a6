import jwt from 'jsonwebtoken';
import type { FastifyRequest } from 'fastify';
import type { Role } from './roles.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const ACCESS_AUDIENCE = 'ledgerline-api';
export const ACCESS_ISSUER = 'ledgerline';
export const ACCESS_COOKIE = '__Host-ll_access';
export const REFRESH_COOKIE = '__Host-ll_refresh';

export interface AccessClaims {
  sub: string;
  bid: string;
  role: Role;
  sid: string;
  typ: 'access';
}

/** HS256 only: the verifier pins the algorithm, so `none` and asymmetric-key confusion are refused. */
export function signAccessToken(secret: string, claims: Omit<AccessClaims, 'typ'>): string {
  const { sub, ...rest } = claims;
  return jwt.sign({ ...rest, typ: 'access' }, secret, {
    algorithm: 'HS256',
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    audience: ACCESS_AUDIENCE,
    issuer: ACCESS_ISSUER,
    subject: sub,
  });
}

/** Bearer header first (mobile, API clients), then the dashboard's cookie; remembers which. */
export function extractAccessToken(request: FastifyRequest & { authVia?: 'bearer' | 'cookie' }): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) {
    request.authVia = 'bearer';
    return header.slice(7).trim() || null;
  }
  const cookie = (request as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies?.[ACCESS_COOKIE];
  if (cookie) {
    request.authVia = 'cookie';
    return cookie;
  }
  return null;
}
