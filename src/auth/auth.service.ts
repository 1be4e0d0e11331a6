import { Inject, Injectable } from '@nestjs/common';
import { queryRows } from '../database/sql.js';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';
import { canonicalEmail } from './email.js';
import { MfaService } from './mfa.service.js';
import { checkPassword, loadCommonPasswords } from './password-policy.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { Principal, RequestMeta } from './principal.js';
import type { Role } from './roles.js';
import { SessionsService, type ClientKind, type IssuedSession } from './sessions.service.js';
import { hashToken, randomToken } from './tokens.js';
import { logAddress } from '../common/logging/redact.js';

export const LOCKOUT_THRESHOLD = 10;
export const LOCKOUT_WINDOW_MINUTES = 15;
const RESET_TOKEN_MINUTES = 60;

interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  mfa_enabled: boolean;
  locked: boolean;
}

const GENERIC_LOGIN_FAILURE = () => AppError.unauthorized('invalid_credentials', 'The email, password or code is not correct.');

/**
 * Accounts and sign-in: signup, login (with MFA and a soft lock), refresh rotation with theft
 * detection, logout, business switch, password change and reset. Every outcome that matters
 * to an auditor is an audit event with actor, IP and user agent.
 */
@Injectable()
export class AuthService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
    private readonly jobs: JobsService,
    private readonly mfa: MfaService,
  ) {
    loadCommonPasswords(); // fail at boot, not at the first signup, if the bundled list is missing
  }

  async signup(input: { businessName: string; name: string; email: string; password: string; client: ClientKind }, meta: RequestMeta): Promise<{ session: IssuedSession; user: { id: string; name: string; email: string }; business: { id: string; name: string } }> {
    const email = canonicalEmail(input.email);
    assertPassword(input.password, { email, name: input.name });
    const passwordHash = await hashPassword(input.password);
    try {
      return await this.dataSource.transaction(async (tx) => {
        const [business]: Array<{ id: string; name: string }> = await tx.query('INSERT INTO businesses (name) VALUES ($1) RETURNING id, name', [input.businessName]);
        const [user]: Array<{ id: string; name: string; email: string }> = await tx.query(
          'INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id, name, email',
          [email, input.name, passwordHash],
        );
        await tx.query(`INSERT INTO memberships (business_id, user_id, role) VALUES ($1, $2, 'admin')`, [business.id, user.id]);
        const session = await this.sessions.create(tx, { userId: user.id, businessId: business.id, role: 'admin', client: input.client, meta });
        await this.audit.record({ businessId: business.id, actor: { type: 'user', id: user.id }, action: 'auth.signup', entity: { type: 'user', id: user.id }, ...meta }, tx);
        return { session, user, business };
      });
    } catch (error) {
      if ((error as { constraint?: string }).constraint === 'users_email_key') throw AppError.conflict('email_taken', 'An account with this email already exists. Sign in instead.');
      throw error;
    }
  }

  async login(input: { email: string; password: string; mfaCode?: string; businessId?: string; client: ClientKind }, meta: RequestMeta): Promise<IssuedSession> {
    const email = canonicalEmail(input.email);
    const rows: UserRow[] = await this.dataSource.query(
      `SELECT id, email, name, password_hash, mfa_enabled_at IS NOT NULL AS mfa_enabled, coalesce(locked_until > now(), false) AS locked FROM users WHERE email = $1`,
      [email],
    );
    const user = rows[0];
    const passwordOk = await verifyPassword(input.password, user?.password_hash);
    if (!user || !passwordOk) {
      await this.recordFailure(user, email, meta, 'password');
      throw GENERIC_LOGIN_FAILURE();
    }
    // A soft lock (10 failures in 15 minutes) is lifted by a valid TOTP or by waiting.
    const needsCode = user.mfa_enabled || user.locked;
    if (needsCode) {
      if (!input.mfaCode) {
        if (!user.mfa_enabled) {
          await this.recordFailure(user, email, meta, 'locked');
          throw GENERIC_LOGIN_FAILURE();
        }
        throw AppError.unauthorized('mfa_required', 'Enter the code from your authenticator app.');
      }
      if (!user.mfa_enabled || !(await this.mfa.verifyLoginCode(user.id, input.mfaCode))) {
        await this.recordFailure(user, email, meta, 'mfa');
        throw GENERIC_LOGIN_FAILURE();
      }
    }
    const memberships: Array<{ business_id: string; role: Role }> = await this.dataSource.query(
      `SELECT m.business_id, m.role FROM memberships m JOIN businesses b ON b.id = m.business_id
        WHERE m.user_id = $1 AND b.closed_at IS NULL AND ($2::uuid IS NULL OR m.business_id = $2::uuid)
        ORDER BY m.last_used_at DESC LIMIT 1`,
      [user.id, input.businessId ?? null],
    );
    const membership = memberships[0];
    if (!membership) {
      await this.recordFailure(user, email, meta, 'no_membership');
      throw GENERIC_LOGIN_FAILURE();
    }
    return this.dataSource.transaction(async (tx) => {
      await queryRows(tx,'UPDATE users SET failed_login_count = 0, failed_login_since = NULL, locked_until = NULL WHERE id = $1', [user.id]);
      await queryRows(tx,'UPDATE memberships SET last_used_at = now() WHERE business_id = $1 AND user_id = $2', [membership.business_id, user.id]);
      const session = await this.sessions.create(tx, { userId: user.id, businessId: membership.business_id, role: membership.role, client: input.client, meta });
      await this.audit.record(
        { businessId: membership.business_id, actor: { type: 'user', id: user.id }, action: 'auth.login.succeeded', entity: { type: 'session', id: session.sessionId }, detail: { client: input.client, mfa: user.mfa_enabled }, ...meta },
        tx,
      );
      return session;
    });
  }

  async refresh(refreshToken: string, meta: RequestMeta): Promise<IssuedSession> {
    const outcome = await this.sessions.rotate(refreshToken);
    if (outcome.kind === 'rotated') return outcome.session;
    if (outcome.kind === 'reused') {
      const emailIds = await this.dataSource.transaction(async (tx) => {
        await this.audit.record(
          { businessId: outcome.businessId, actor: { type: 'anonymous' }, action: 'auth.refresh.reuse_detected', entity: { type: 'session', id: outcome.sessionId }, detail: { userId: outcome.userId }, ...meta },
          tx,
        );
        return [await this.securityEmail(tx, outcome.userId, 'a sign-in was ended', 'An old sign-in token of yours was used again, which can mean it was copied. We signed that device out to be safe.')];
      });
      await this.outbox.dispatch(emailIds);
    }
    throw AppError.unauthorized('invalid_refresh_token', 'Sign in again.');
  }

  async businessesOf(userId: string): Promise<Array<{ id: string; name: string; role: Role }>> {
    return this.dataSource.query(
      `SELECT b.id, b.name, m.role FROM memberships m JOIN businesses b ON b.id = m.business_id WHERE m.user_id = $1 AND b.closed_at IS NULL ORDER BY m.last_used_at DESC`,
      [userId],
    );
  }

  async logout(principal: Principal, refreshToken: string | undefined, meta: RequestMeta): Promise<void> {
    // Only a session the caller owns: the presented refresh token must match a live session of this user.
    const sessionId = refreshToken ? await this.sessions.findOwnedByToken(principal.userId, refreshToken) : undefined;
    if (!sessionId) throw AppError.unauthorized('invalid_refresh_token', 'This sign-in is not yours or has already ended.');
    await this.dataSource.transaction(async (tx) => {
      await this.sessions.revoke(tx, sessionId, 'logout');
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.logout', entity: { type: 'session', id: sessionId }, ...meta }, tx);
    });
  }

  async switchBusiness(principal: Principal, businessId: string, meta: RequestMeta): Promise<IssuedSession> {
    const memberships: Array<{ role: Role }> = await this.dataSource.query(
      `SELECT m.role FROM memberships m JOIN businesses b ON b.id = m.business_id WHERE m.user_id = $1 AND m.business_id = $2 AND b.closed_at IS NULL`,
      [principal.userId, businessId],
    );
    if (memberships.length === 0) throw AppError.notFound('business_not_found', 'No such business among yours.');
    return this.dataSource.transaction(async (tx) => {
      await this.sessions.revoke(tx, principal.sessionId, 'switched_business');
      await queryRows(tx,'UPDATE memberships SET last_used_at = now() WHERE business_id = $1 AND user_id = $2', [businessId, principal.userId]);
      const session = await this.sessions.create(tx, { userId: principal.userId, businessId, role: memberships[0].role, client: principal.client, meta });
      await this.audit.record({ businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.business.switched', entity: { type: 'session', id: session.sessionId }, detail: { from: principal.businessId }, ...meta }, tx);
      return session;
    });
  }

  async changePassword(principal: Principal, input: { currentPassword: string; newPassword: string }, meta: RequestMeta): Promise<IssuedSession> {
    const [user]: Array<{ email: string; name: string; password_hash: string }> = await this.dataSource.query('SELECT email, name, password_hash FROM users WHERE id = $1', [principal.userId]);
    if (!(await verifyPassword(input.currentPassword, user?.password_hash))) throw GENERIC_LOGIN_FAILURE();
    assertPassword(input.newPassword, { email: user.email, name: user.name }, 'newPassword');
    const passwordHash = await hashPassword(input.newPassword);
    const result = await this.dataSource.transaction(async (tx) => {
      await queryRows(tx,'UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [principal.userId, passwordHash]);
      const revoked = await this.sessions.revokeAllForUser(tx, principal.userId, 'password_changed');
      const session = await this.sessions.create(tx, { userId: principal.userId, businessId: principal.businessId, role: principal.role, client: principal.client, meta });
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.password.changed', entity: { type: 'user', id: principal.userId }, detail: { sessionsRevoked: revoked }, ...meta }, tx);
      const emailId = await this.securityEmail(tx, principal.userId, 'your password was changed', 'Your password was changed and every device was signed out.');
      return { session, emailIds: [emailId] };
    });
    await this.outbox.dispatch(result.emailIds);
    return result.session;
  }

  /** Queued so that known and unknown emails cost the caller exactly the same. */
  async requestPasswordReset(email: string, meta: RequestMeta): Promise<void> {
    await this.jobs.dispatch('auth.password-reset-requested', { email: canonicalEmail(email), ip: meta.ip, userAgent: meta.userAgent }, { jobId: `reset.${randomToken(12)}` });
  }

  @JobHandler('auth.password-reset-requested')
  async createPasswordReset(payload: { email: string; ip: string | null; userAgent: string | null }): Promise<void> {
    const [user]: Array<{ id: string; name: string; email: string }> = await this.dataSource.query('SELECT id, name, email FROM users WHERE email = $1', [payload.email]);
    if (!user) return;
    const token = randomToken();
    const emailId = await this.dataSource.transaction(async (tx) => {
      await tx.query(`INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '${RESET_TOKEN_MINUTES} minutes')`, [hashToken(token), user.id]);
      await this.audit.record({ businessId: null, actor: { type: 'anonymous' }, action: 'auth.password.reset_requested', entity: { type: 'user', id: user.id }, ip: payload.ip, userAgent: payload.userAgent }, tx);
      return this.outbox.enqueue(tx, {
        businessId: null,
        to: user.email,
        template: 'passwordReset',
        content: templates.passwordReset({ name: user.name, token, resetUrl: `${this.config.baseUrl}/reset-password#token=${encodeURIComponent(token)}` }),
      });
    });
    await this.outbox.dispatch([emailId]);
  }

  async resetPassword(input: { token: string; newPassword: string }, meta: RequestMeta): Promise<void> {
    const tokenHash = hashToken(input.token);
    const [candidate]: Array<{ email: string; name: string }> = await this.dataSource.query(
      `SELECT u.email, u.name FROM password_resets r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()`,
      [tokenHash],
    );
    if (!candidate) throw AppError.unauthorized('invalid_reset_token', 'This reset link is invalid or has expired.');
    assertPassword(input.newPassword, candidate, 'newPassword');
    const passwordHash = await hashPassword(input.newPassword);
    const emailIds = await this.dataSource.transaction(async (tx) => {
      // Single use under concurrency: exactly one transaction can mark the token used.
      const used: Array<{ user_id: string }> = await queryRows(tx,
        'UPDATE password_resets SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id',
        [tokenHash],
      );
      if (used.length === 0) throw AppError.unauthorized('invalid_reset_token', 'This reset link is invalid or has expired.');
      const userId = used[0].user_id;
      await queryRows(tx,'UPDATE users SET password_hash = $2, password_changed_at = now(), failed_login_count = 0, locked_until = NULL WHERE id = $1', [userId, passwordHash]);
      const revoked = await this.sessions.revokeAllForUser(tx, userId, 'password_reset');
      await this.audit.record({ businessId: null, actor: { type: 'user', id: userId }, action: 'auth.password.reset', entity: { type: 'user', id: userId }, detail: { sessionsRevoked: revoked }, ...meta }, tx);
      return [await this.securityEmail(tx, userId, 'your password was reset', 'Your password was reset and every device was signed out.')];
    });
    await this.outbox.dispatch(emailIds);
  }

  private async recordFailure(user: UserRow | undefined, email: string, meta: RequestMeta, reason: string): Promise<void> {
    const emailIds = await this.dataSource.transaction(async (tx) => {
      const ids: string[] = [];
      if (user) {
        const [counter]: Array<{ failed_login_count: number; newly_locked: boolean }> = await queryRows(tx,
          `UPDATE users SET
              failed_login_count = CASE WHEN failed_login_since IS NULL OR failed_login_since < now() - interval '${LOCKOUT_WINDOW_MINUTES} minutes' THEN 1 ELSE failed_login_count + 1 END,
              failed_login_since = CASE WHEN failed_login_since IS NULL OR failed_login_since < now() - interval '${LOCKOUT_WINDOW_MINUTES} minutes' THEN now() ELSE failed_login_since END
            WHERE id = $1
          RETURNING failed_login_count, false AS newly_locked`,
          [user.id],
        );
        if (counter.failed_login_count === LOCKOUT_THRESHOLD) {
          await queryRows(tx,`UPDATE users SET locked_until = now() + interval '${LOCKOUT_WINDOW_MINUTES} minutes' WHERE id = $1`, [user.id]);
          await this.audit.record({ businessId: null, actor: { type: 'anonymous' }, action: 'auth.lockout', entity: { type: 'user', id: user.id }, detail: { failures: counter.failed_login_count }, ...meta }, tx);
          ids.push(await this.securityEmail(tx, user.id, 'too many failed sign-ins', `There were ${LOCKOUT_THRESHOLD} failed attempts to sign in to your account within ${LOCKOUT_WINDOW_MINUTES} minutes. For the next ${LOCKOUT_WINDOW_MINUTES} minutes, signing in also needs a code from your authenticator app.`));
        }
      }
      await this.audit.record({ businessId: null, actor: { type: 'anonymous' }, action: 'auth.login.failed', entity: user ? { type: 'user', id: user.id } : undefined, detail: { reason, knownAccount: Boolean(user) }, ...meta }, tx);
      return ids;
    });
    await this.outbox.dispatch(emailIds);
    this.logger.info({ reason, knownAccount: Boolean(user), ip: logAddress(meta.ip), emailDomain: email.split('@')[1] }, 'login failed');
  }

  private async securityEmail(tx: EntityManager, userId: string, event: string, detail: string): Promise<string> {
    const [user]: Array<{ name: string; email: string }> = await tx.query('SELECT name, email FROM users WHERE id = $1', [userId]);
    return this.outbox.enqueue(tx, { businessId: null, to: user.email, template: 'securityAlert', content: templates.securityAlert({ name: user.name, event, detail }) });
  }
}

export function assertPassword(password: string, context: { email?: string; name?: string }, field = 'password'): void {
  const verdict = checkPassword(password, context);
  if (!verdict.ok) throw AppError.validation([{ field, code: verdict.code, message: verdict.message }]);
}
