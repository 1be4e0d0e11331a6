import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Role } from './roles.js';

/** Who is calling, as established by the auth guard from a live session. */
export interface Principal {
  userId: string;
  businessId: string;
  role: Role;
  sessionId: string;
  client: 'web' | 'mobile';
  /** How the access token arrived: cookie-authenticated unsafe requests need the CSRF token. */
  via: 'bearer' | 'cookie';
  mfaEnabled: boolean;
  /** The business requires MFA of admin and billing members. */
  mfaRequired: boolean;
}

/** Request facts recorded in audit events and sessions. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<FastifyRequest & { user?: Principal }>().user;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});

export const Meta = createParamDecorator((_data: unknown, context: ExecutionContext): RequestMeta => requestMeta(context.switchToHttp().getRequest<FastifyRequest>()));

export function requestMeta(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null };
}
