import { Inject, Injectable } from '@nestjs/common';
import { queryRows } from '../database/sql.js';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ACCESS_TOKEN_TTL_SECONDS, signAccessToken } from './access-tokens.js';
import type { RequestMeta } from './principal.js';
import type { Role } from './roles.js';
import { csrfTokenFor, hashToken, newRefreshToken } from './tokens.js';

export const SESSION_IDLE_DAYS = 7;
export const SESSION_ABSOLUTE_DAYS = 30;

export type ClientKind = 'web' | 'mobile';

export interface IssuedSession {
  sessionId: string;
  userId: string;
  businessId: string;
  role: Role;
  client: ClientKind;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  csrfToken: string;
}

export type RefreshOutcome =
  | { kind: 'rotated'; session: IssuedSession }
  | { kind: 'reused'; sessionId: string; userId: string; businessId: string }
  | { kind: 'invalid' };

/**
 * Sessions and their rotating refresh tokens. A session is one token family: each refresh
 * consumes the presented token with one conditional UPDATE (exactly one row may change) and
 * issues the successor in the same transaction; presenting a consumed token revokes the family.
 */
@Injectable()
export class SessionsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(manager: EntityManager, input: { userId: string; businessId: string; role: Role; client: ClientKind; meta: RequestMeta }): Promise<IssuedSession> {
    const [row]: Array<{ id: string }> = await manager.query(
      `INSERT INTO sessions (user_id, business_id, client, idle_expires_at, absolute_expires_at, ip, user_agent)
       VALUES ($1, $2, $3, now() + interval '${SESSION_IDLE_DAYS} days', now() + interval '${SESSION_ABSOLUTE_DAYS} days', $4, $5)
       RETURNING id`,
      [input.userId, input.businessId, input.client, input.meta.ip, input.meta.userAgent],
    );
    const refreshToken = newRefreshToken(row.id);
    await manager.query('INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)', [hashToken(refreshToken), row.id]);
    return this.issue({ sessionId: row.id, userId: input.userId, businessId: input.businessId, role: input.role, client: input.client }, refreshToken);
  }

  async rotate(refreshToken: string): Promise<RefreshOutcome> {
    const tokenHash = hashToken(refreshToken);
    return this.dataSource.transaction(async (manager) => {
      const consumed: Array<{ session_id: string }> = await queryRows(manager,
        'UPDATE refresh_tokens SET consumed_at = now() WHERE token_hash = $1 AND consumed_at IS NULL RETURNING session_id',
        [tokenHash],
      );
      if (consumed.length === 0) {
        const known: Array<{ session_id: string; user_id: string; business_id: string }> = await manager.query(
          `SELECT r.session_id, s.user_id, s.business_id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1`,
          [tokenHash],
        );
        if (known.length === 0) return { kind: 'invalid' };
        await queryRows(manager,`UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_token_reused' WHERE id = $1 AND revoked_at IS NULL`, [known[0].session_id]);
        return { kind: 'reused', sessionId: known[0].session_id, userId: known[0].user_id, businessId: known[0].business_id };
      }
      const sessionId = consumed[0].session_id;
      const live: Array<{ user_id: string; business_id: string; client: ClientKind; role: Role }> = await queryRows(manager,
        `UPDATE sessions s SET last_used_at = now(), idle_expires_at = least(now() + interval '${SESSION_IDLE_DAYS} days', s.absolute_expires_at)
           FROM memberships m, businesses b
          WHERE s.id = $1 AND s.revoked_at IS NULL AND s.idle_expires_at > now() AND s.absolute_expires_at > now()
            AND m.business_id = s.business_id AND m.user_id = s.user_id AND b.id = s.business_id AND b.closed_at IS NULL
          RETURNING s.user_id, s.business_id, s.client, m.role`,
        [sessionId],
      );
      if (live.length === 0) return { kind: 'invalid' };
      const successor = newRefreshToken(sessionId);
      await manager.query('INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)', [hashToken(successor), sessionId]);
      const session = live[0];
      return {
        kind: 'rotated',
        session: this.issue({ sessionId, userId: session.user_id, businessId: session.business_id, role: session.role, client: session.client }, successor),
      };
    });
  }

  /** The live session this refresh token belongs to, if it belongs to this user. */
  async findOwnedByToken(userId: string, refreshToken: string): Promise<string | undefined> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT s.id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
        WHERE r.token_hash = $1 AND r.consumed_at IS NULL AND s.user_id = $2 AND s.revoked_at IS NULL`,
      [hashToken(refreshToken), userId],
    );
    return rows[0]?.id;
  }

  async revoke(manager: EntityManager | DataSource, sessionId: string, reason: string): Promise<boolean> {
    const rows: unknown[] = await queryRows(manager,`UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id`, [sessionId, reason]);
    return rows.length > 0;
  }

  async revokeAllForUser(manager: EntityManager, userId: string, reason: string): Promise<number> {
    const rows: unknown[] = await queryRows(manager,`UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`, [userId, reason]);
    return rows.length;
  }

  async revokeForMember(manager: EntityManager, userId: string, businessId: string, reason: string): Promise<number> {
    const rows: unknown[] = await queryRows(manager,
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $3 WHERE user_id = $1 AND business_id = $2 AND revoked_at IS NULL RETURNING id`,
      [userId, businessId, reason],
    );
    return rows.length;
  }

  async listForUser(userId: string): Promise<Array<{ id: string; businessId: string; client: ClientKind; ip: string | null; userAgent: string | null; createdAt: Date; lastUsedAt: Date }>> {
    const rows: Array<{ id: string; business_id: string; client: ClientKind; ip: string | null; user_agent: string | null; created_at: Date; last_used_at: Date }> = await this.dataSource.query(
      `SELECT id, business_id, client, ip, user_agent, created_at, last_used_at FROM sessions
        WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > now() AND absolute_expires_at > now()
        ORDER BY last_used_at DESC LIMIT 100`,
      [userId],
    );
    return rows.map((row) => ({ id: row.id, businessId: row.business_id, client: row.client, ip: row.ip, userAgent: row.user_agent, createdAt: row.created_at, lastUsedAt: row.last_used_at }));
  }

  private issue(session: { sessionId: string; userId: string; businessId: string; role: Role; client: ClientKind }, refreshToken: string): IssuedSession {
    return {
      ...session,
      refreshToken,
      accessToken: signAccessToken(this.config.jwtSecret, { sub: session.userId, bid: session.businessId, role: session.role, sid: session.sessionId }),
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      csrfToken: csrfTokenFor(this.config.jwtSecret, session.sessionId),
    };
  }
}
