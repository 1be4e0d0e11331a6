import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig, type KeyEntry } from '../config/config.js';
import { KEY_ROTATION_DAYS, keyAge, keyFingerprint, type KeyAge } from './key-ages.js';
import { SecuritySignals, type WebhookProvider } from './security-signals.js';

/** A live session unused for this long, or this old, is "stale": probably a forgotten device. */
const STALE_SESSION_IDLE_DAYS = 3;
const STALE_SESSION_AGE_DAYS = 14;
/** A pending invitation this old (or expired and never revoked) is "stale". */
const STALE_INVITATION_DAYS = 3;
/** A configured provider whose webhooks have not arrived for this long is flagged. */
const WEBHOOK_RECENT_DAYS = 7;
const KEY_KINDS = ['LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS'] as const;
/** Where the webhooks module keeps verified deliveries, if it exists yet: table and its time column. */
const WEBHOOK_TABLES: Array<{ table: string; time: string[] }> = [{ table: 'webhook_events', time: ['received_at'] }];

export interface Posture {
  generatedAt: string;
  business: { requireMfa: boolean; retentionYears: number; fiscalYearEndMonth: number };
  members: { total: number; withoutMfa: Array<{ userId: string; name: string; email: string; role: string }> };
  sessions: { live: number; stale: Array<{ id: string; userId: string; client: string; createdAt: string; lastUsedAt: string }> };
  invitations: { pending: number; stale: Array<{ id: string; email: string; role: string; createdAt: string; expiresAt: string; expired: boolean }> };
  links: { ttlDays: number | null; maxTtlDays: number; epoch: number };
  webhooks: Array<{ provider: WebhookProvider; configured: boolean; verified: boolean; lastSeenAt: string | null; recentlySeen: boolean; failuresInCurrentWindow: number }>;
  keys: { rotationDays: number; linkSigningKeys: KeyAge[]; encryptionKeys: KeyAge[]; rotationDue: boolean };
  securityEventsLast7Days: number;
  warnings: string[];
}

/**
 * GET /v1/security/posture: what an admin should look at. At boot it records when each
 * configured key was first seen (a fingerprint, never the secret), which gives key ages even
 * for keys whose id carries no date.
 */
@Injectable()
export class PostureService implements OnApplicationBootstrap {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly signals: SecuritySignals,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.recordKeys();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not record key fingerprints; key ages will show from the next start');
    }
  }

  async recordKeys(): Promise<void> {
    for (const kind of KEY_KINDS) {
      for (const key of this.keys(kind)) {
        await this.dataSource.query(
          `INSERT INTO key_fingerprints (kind, key_id, fingerprint) VALUES ($1, $2, $3)
           ON CONFLICT (kind, key_id) DO UPDATE SET fingerprint = excluded.fingerprint, first_seen_at = now()
             WHERE key_fingerprints.fingerprint <> excluded.fingerprint`,
          [kind, key.id, keyFingerprint(kind, key)],
        );
      }
    }
  }

  async posture(businessId: string): Promise<Posture> {
    const [business]: Array<Record<string, unknown>> = await this.dataSource.query('SELECT * FROM businesses WHERE id = $1', [businessId]);
    const members: Array<{ user_id: string; name: string; email: string; role: string; mfa: boolean }> = await this.dataSource.query(
      `SELECT m.user_id, u.name, u.email, m.role, u.mfa_enabled_at IS NOT NULL AS mfa
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.business_id = $1 ORDER BY m.created_at, u.email`,
      [businessId],
    );
    const sessions: Array<{ id: string; user_id: string; client: string; created_at: Date; last_used_at: Date; stale: boolean }> = await this.dataSource.query(
      `SELECT id, user_id, client, created_at, last_used_at,
              (last_used_at < now() - interval '${STALE_SESSION_IDLE_DAYS} days' OR created_at < now() - interval '${STALE_SESSION_AGE_DAYS} days') AS stale
         FROM sessions WHERE business_id = $1 AND revoked_at IS NULL AND idle_expires_at > now() AND absolute_expires_at > now()
        ORDER BY last_used_at`,
      [businessId],
    );
    const invitations: Array<{ id: string; email: string; role: string; created_at: Date; expires_at: Date; expired: boolean; stale: boolean }> = await this.dataSource.query(
      `SELECT id, email, role, created_at, expires_at, expires_at <= now() AS expired,
              (expires_at <= now() OR created_at < now() - interval '${STALE_INVITATION_DAYS} days') AS stale
         FROM invitations WHERE business_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at`,
      [businessId],
    );
    const [{ n: recentEvents }]: Array<{ n: number }> = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM security_events WHERE business_id = $1 AND last_seen_at > now() - interval '7 days'`,
      [businessId],
    );
    const keyAges = await this.keyAges();
    const webhooks = await this.webhooks();
    const withoutMfa = members.filter((member) => !member.mfa).map((member) => ({ userId: member.user_id, name: member.name, email: member.email, role: member.role }));
    const staleSessions = sessions.filter((session) => session.stale).map((session) => ({ id: session.id, userId: session.user_id, client: session.client, createdAt: session.created_at.toISOString(), lastUsedAt: session.last_used_at.toISOString() }));
    const staleInvitations = invitations.filter((invitation) => invitation.stale).map((invitation) => ({ id: invitation.id, email: invitation.email, role: invitation.role, createdAt: invitation.created_at.toISOString(), expiresAt: invitation.expires_at.toISOString(), expired: invitation.expired }));
    const rotationDue = [...keyAges.LINK_SIGNING_KEYS, ...keyAges.ENCRYPTION_KEYS].some((key) => key.rotationDue);

    const warnings: string[] = [];
    if (!business.require_mfa) warnings.push('The business does not require two-factor authentication.');
    const privileged = withoutMfa.filter((member) => member.role !== 'viewer');
    if (privileged.length > 0) warnings.push(`${privileged.length} admin or billing member(s) have no two-factor authentication.`);
    if (staleSessions.length > 0) warnings.push(`${staleSessions.length} session(s) look forgotten (unused for ${STALE_SESSION_IDLE_DAYS} days or older than ${STALE_SESSION_AGE_DAYS} days).`);
    if (staleInvitations.length > 0) warnings.push(`${staleInvitations.length} invitation(s) are pending for more than ${STALE_INVITATION_DAYS} days or expired: revoke them.`);
    for (const webhook of webhooks) {
      if (webhook.configured && !webhook.recentlySeen) warnings.push(`No verified ${webhook.provider} webhook in the last ${WEBHOOK_RECENT_DAYS} days.`);
    }
    if (rotationDue) warnings.push(`A signing or encryption key is older than ${KEY_ROTATION_DAYS} days: rotate it.`);

    return {
      generatedAt: new Date().toISOString(),
      business: { requireMfa: Boolean(business.require_mfa), retentionYears: Number(business.retention_years), fiscalYearEndMonth: Number(business.fiscal_year_end_month) },
      members: { total: members.length, withoutMfa },
      sessions: { live: sessions.length, stale: staleSessions },
      invitations: { pending: invitations.length, stale: staleInvitations },
      links: { ttlDays: typeof business.link_ttl_days === 'number' ? business.link_ttl_days : null, maxTtlDays: 60, epoch: Number(business.link_epoch) },
      webhooks,
      keys: { rotationDays: KEY_ROTATION_DAYS, linkSigningKeys: keyAges.LINK_SIGNING_KEYS, encryptionKeys: keyAges.ENCRYPTION_KEYS, rotationDue },
      securityEventsLast7Days: recentEvents,
      warnings,
    };
  }

  private keys(kind: (typeof KEY_KINDS)[number]): KeyEntry[] {
    return kind === 'LINK_SIGNING_KEYS' ? this.config.linkSigningKeys : this.config.encryptionKeys;
  }

  private async keyAges(): Promise<Record<(typeof KEY_KINDS)[number], KeyAge[]>> {
    const rows: Array<{ kind: string; key_id: string; fingerprint: string; first_seen_at: Date }> = await this.dataSource.query('SELECT kind, key_id, fingerprint, first_seen_at FROM key_fingerprints');
    const now = new Date();
    const out = { LINK_SIGNING_KEYS: [] as KeyAge[], ENCRYPTION_KEYS: [] as KeyAge[] };
    for (const kind of KEY_KINDS) {
      this.keys(kind).forEach((key, index) => {
        const seen = rows.find((row) => row.kind === kind && row.key_id === key.id && row.fingerprint === keyFingerprint(kind, key));
        out[kind].push(keyAge(key.id, index === 0, seen?.first_seen_at ?? now, now));
      });
    }
    return out;
  }

  private async webhooks(): Promise<Posture['webhooks']> {
    const configured: Record<WebhookProvider, boolean> = {
      stripe: Boolean(this.config.stripe?.webhookSecret),
      paypal: Boolean(this.config.paypal?.webhookId),
      postmark: Boolean(this.config.postmark.webhookUser && this.config.postmark.webhookPassword),
    };
    const lastSeen = await this.lastWebhookSeen();
    return (Object.keys(configured) as WebhookProvider[]).map((provider) => {
      const seen = lastSeen.get(provider) ?? null;
      return {
        provider,
        configured: configured[provider],
        // Every configured provider's deliveries are verified before anything is stored (webhooks module).
        verified: configured[provider],
        lastSeenAt: seen ? seen.toISOString() : null,
        recentlySeen: seen !== null && seen.getTime() > Date.now() - WEBHOOK_RECENT_DAYS * 86_400_000,
        failuresInCurrentWindow: this.signals.webhookFailuresInWindow(provider),
      };
    });
  }

  /** The newest verified delivery per provider, from the webhooks module's table if there is one. */
  private async lastWebhookSeen(): Promise<Map<string, Date>> {
    const out = new Map<string, Date>();
    for (const candidate of WEBHOOK_TABLES) {
      const columns: Array<{ column_name: string }> = await this.dataSource.query(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
        [candidate.table],
      );
      const names = new Set(columns.map((column) => column.column_name));
      const time = candidate.time.find((column) => names.has(column));
      if (!names.has('provider') || !time) continue;
      const rows: Array<{ provider: string; seen: Date }> = await this.dataSource.query(`SELECT provider, max(${time}) AS seen FROM ${candidate.table} GROUP BY provider`);
      for (const row of rows) if (row.seen && (!out.has(row.provider) || out.get(row.provider)! < row.seen)) out.set(row.provider, row.seen);
    }
    // Postmark's delivery webhooks land in email_events (recorded ones passed its credentials check).
    if ((await this.dataSource.query(`SELECT to_regclass('email_events') IS NOT NULL AS present`))[0]?.present) {
      const [row]: Array<{ seen: Date | null }> = await this.dataSource.query(`SELECT max(received_at) AS seen FROM email_events WHERE outcome = 'recorded'`);
      if (row?.seen) out.set('postmark', row.seen);
    }
    return out;
  }
}
