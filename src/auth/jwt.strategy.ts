import { createSecretKey } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-jwt';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ACCESS_AUDIENCE, ACCESS_ISSUER, extractAccessToken, type AccessClaims } from './access-tokens.js';
import type { Principal } from './principal.js';
import { SessionsRepository } from './sessions.repository.js';

/**
 * passport-jwt verifies signature, algorithm (HS256 pinned), audience, issuer and expiry; then
 * the session must still be live, so a revoked session's token is refused on its next request.
 * The role comes from the membership row, not the token, so a role change applies at once.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly sessions: SessionsRepository,
  ) {
    super({
      jwtFromRequest: extractAccessToken as never,
      // A key object: given a string, jsonwebtoken first tries to parse it as a public key on every verify (about 0.27 ms).
      // (passport-jwt hands it to jsonwebtoken unchanged; its types only list string and Buffer.)
      secretOrKey: createSecretKey(Buffer.from(config.jwtSecret, 'utf8')) as unknown as Buffer,
      algorithms: ['HS256'],
      audience: ACCESS_AUDIENCE,
      issuer: ACCESS_ISSUER,
      ignoreExpiration: false,
      passReqToCallback: true,
    });
  }

  async validate(request: FastifyRequest & { authVia?: 'bearer' | 'cookie' }, claims: AccessClaims): Promise<Principal | false> {
    if (claims.typ !== 'access' || typeof claims.sid !== 'string' || typeof claims.sub !== 'string') return false;
    const live = await this.sessions.findLive(claims.sid);
    if (!live || live.userId !== claims.sub || live.businessId !== claims.bid) return false;
    return {
      userId: live.userId,
      businessId: live.businessId,
      role: live.role,
      sessionId: claims.sid,
      client: live.client,
      via: request.authVia ?? 'bearer',
      mfaEnabled: live.mfaEnabled,
      mfaRequired: live.requireMfa,
    };
  }
}
