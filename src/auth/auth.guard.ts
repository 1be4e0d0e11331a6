import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard as PassportAuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../common/errors/app-error.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { Principal } from './principal.js';
import { IS_PUBLIC } from './public.decorator.js';
import { ALLOW_WITHOUT_MFA, ROLES_KEY, type Role } from './roles.js';
import { constantTimeEqual, csrfTokenFor } from './tokens.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'x-csrf-token';

/**
 * The one global guard, secure by default: every route is authenticated unless @Public().
 * After the JWT and live-session check it enforces, in order: the route's @Roles (a route
 * without any is refused), MFA enrollment where the business requires it, and the CSRF token
 * for cookie-authenticated unsafe requests (bearer-authenticated requests are exempt).
 */
@Injectable()
export class AuthGuard extends PassportAuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    await super.canActivate(context);
    const request = context.switchToHttp().getRequest<FastifyRequest & { user: Principal }>();
    const principal = request.user;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (!roles || roles.length === 0) throw AppError.forbidden('route_without_roles', 'This route declares no roles.');
    if (!roles.includes(principal.role)) throw AppError.forbidden('role_not_allowed', 'Your role in this business does not allow this.');

    if (principal.mfaRequired && !principal.mfaEnabled && principal.role !== 'viewer' && !this.reflector.get<boolean>(ALLOW_WITHOUT_MFA, context.getHandler())) {
      throw AppError.forbidden('mfa_enrollment_required', 'This business requires two-factor authentication: enroll before continuing.');
    }

    if (principal.via === 'cookie' && !SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !constantTimeEqual(sent, csrfTokenFor(this.config.jwtSecret, principal.sessionId))) {
        throw AppError.forbidden('csrf_token_invalid', 'Missing or invalid CSRF token.');
      }
    }
    return true;
  }

  override handleRequest<T>(error: unknown, user: T): T {
    if (error || !user) throw AppError.unauthorized('unauthorized', 'Authentication is required.');
    return user;
  }
}
