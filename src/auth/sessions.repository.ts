import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { preparedQuery } from '../database/sql.js';
import type { Role } from './roles.js';

export interface LiveSession {
  userId: string;
  businessId: string;
  role: Role;
  client: 'web' | 'mobile';
  mfaEnabled: boolean;
  requireMfa: boolean;
}

/**
 * The per-request session check: one indexed query by primary key that also yields the current
 * role and the MFA facts the guard needs. Plain SQL on the hot path (no ORM hydration).
 */
@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async findLive(sessionId: string): Promise<LiveSession | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(sessionId)) return undefined;
    const rows: Array<{ user_id: string; business_id: string; role: Role; client: 'web' | 'mobile'; mfa_enabled: boolean; require_mfa: boolean }> =
      await preparedQuery(this.dataSource,
        `SELECT s.user_id, s.business_id, m.role, s.client, u.mfa_enabled_at IS NOT NULL AS mfa_enabled, b.require_mfa
           FROM sessions s
           JOIN memberships m ON m.business_id = s.business_id AND m.user_id = s.user_id
           JOIN users u ON u.id = s.user_id
           JOIN businesses b ON b.id = s.business_id
          WHERE s.id = $1 AND s.revoked_at IS NULL AND s.idle_expires_at > now() AND s.absolute_expires_at > now()
            AND b.closed_at IS NULL`,
        [sessionId],
      );
    const row = rows[0];
    return row
      ? { userId: row.user_id, businessId: row.business_id, role: row.role, client: row.client, mfaEnabled: row.mfa_enabled, requireMfa: row.require_mfa }
      : undefined;
  }
}
