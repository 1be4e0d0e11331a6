import { Injectable } from '@nestjs/common';
import { queryRows } from '../database/sql.js';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { AppError } from '../common/errors/app-error.js';
import { FieldEncryption } from '../common/crypto/field-encryption.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';
import { verifyPassword } from './passwords.js';
import type { Principal, RequestMeta } from './principal.js';
import { hashToken } from './tokens.js';
import { generateRecoveryCodes, generateTotpSecret, normalizeRecoveryCode, otpauthUri, verifyTotp } from './totp.js';

const ISSUER = 'Ledgerline';

/**
 * TOTP (RFC 6238) enrolment, verification with replay protection, and single-use recovery
 * codes. Secrets are stored encrypted (AES-256-GCM, bound to the user row); recovery codes only
 * as hashes.
 */
@Injectable()
export class MfaService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
  ) {}

  async setup(principal: Principal, meta: RequestMeta): Promise<{ secret: string; otpauthUri: string }> {
    const [user]: Array<{ email: string; mfa_enabled: boolean }> = await this.dataSource.query('SELECT email, mfa_enabled_at IS NOT NULL AS mfa_enabled FROM users WHERE id = $1', [principal.userId]);
    if (user.mfa_enabled) throw AppError.conflict('mfa_already_enabled', 'Two-factor authentication is already on. Disable it first to enroll a new device.');
    const secret = generateTotpSecret();
    await this.dataSource.transaction(async (tx) => {
      await queryRows(tx,'UPDATE users SET mfa_pending_secret = $2 WHERE id = $1', [principal.userId, this.encryption.encrypt(secret, pendingContext(principal.userId))]);
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.mfa.setup_started', entity: { type: 'user', id: principal.userId }, ...meta }, tx);
    });
    return { secret, otpauthUri: otpauthUri({ secret, accountName: user.email, issuer: ISSUER }) };
  }

  async enable(principal: Principal, code: string, meta: RequestMeta): Promise<{ recoveryCodes: string[] }> {
    const [user]: Array<{ mfa_pending_secret: string | null; mfa_enabled: boolean }> = await this.dataSource.query(
      'SELECT mfa_pending_secret, mfa_enabled_at IS NOT NULL AS mfa_enabled FROM users WHERE id = $1',
      [principal.userId],
    );
    if (user.mfa_enabled) throw AppError.conflict('mfa_already_enabled', 'Two-factor authentication is already on.');
    if (!user.mfa_pending_secret) throw AppError.conflict('mfa_setup_required', 'Start with POST /v1/auth/mfa/setup.');
    const secret = this.encryption.decrypt(user.mfa_pending_secret, pendingContext(principal.userId));
    const verdict = verifyTotp(secret, code, Date.now(), { window: 1 });
    if (!verdict.ok) throw AppError.unauthorized('invalid_mfa_code', 'The code is not correct.');
    const recoveryCodes = generateRecoveryCodes(10);
    await this.dataSource.transaction(async (tx) => {
      await queryRows(tx,
        'UPDATE users SET mfa_secret = $2, mfa_pending_secret = NULL, mfa_enabled_at = now(), mfa_last_used_step = $3 WHERE id = $1',
        [principal.userId, this.encryption.encrypt(secret, secretContext(principal.userId)), verdict.step],
      );
      await queryRows(tx,'DELETE FROM mfa_recovery_codes WHERE user_id = $1', [principal.userId]);
      for (const recoveryCode of recoveryCodes) {
        await tx.query('INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)', [principal.userId, hashToken(normalizeRecoveryCode(recoveryCode))]);
      }
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.mfa.enabled', entity: { type: 'user', id: principal.userId }, ...meta }, tx);
    });
    return { recoveryCodes };
  }

  async disable(principal: Principal, input: { password: string; code: string }, meta: RequestMeta): Promise<void> {
    const [user]: Array<{ password_hash: string; name: string; email: string; mfa_enabled: boolean }> = await this.dataSource.query(
      'SELECT password_hash, name, email, mfa_enabled_at IS NOT NULL AS mfa_enabled FROM users WHERE id = $1',
      [principal.userId],
    );
    if (!user.mfa_enabled) throw AppError.conflict('mfa_not_enabled', 'Two-factor authentication is not on.');
    const passwordOk = await verifyPassword(input.password, user.password_hash);
    if (!passwordOk || !(await this.verifyLoginCode(principal.userId, input.code))) {
      throw AppError.unauthorized('invalid_credentials', 'The password or code is not correct.');
    }
    const emailId = await this.dataSource.transaction(async (tx) => {
      await queryRows(tx,'UPDATE users SET mfa_secret = NULL, mfa_pending_secret = NULL, mfa_enabled_at = NULL, mfa_last_used_step = NULL WHERE id = $1', [principal.userId]);
      await queryRows(tx,'DELETE FROM mfa_recovery_codes WHERE user_id = $1', [principal.userId]);
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.mfa.disabled', entity: { type: 'user', id: principal.userId }, ...meta }, tx);
      return this.outbox.enqueue(tx, {
        businessId: null,
        to: user.email,
        template: 'securityAlert',
        content: templates.securityAlert({ name: user.name, event: 'two-factor authentication was turned off', detail: 'Two-factor authentication was turned off for your account.' }),
      });
    });
    await this.outbox.dispatch([emailId]);
  }

  /**
   * A TOTP code (not replayable: the step is stored with a conditional update, so two
   * concurrent uses of one code cannot both pass) or an unused recovery code (consumed).
   */
  async verifyLoginCode(userId: string, code: string): Promise<boolean> {
    const [user]: Array<{ mfa_secret: string | null; mfa_last_used_step: string | null }> = await this.dataSource.query('SELECT mfa_secret, mfa_last_used_step FROM users WHERE id = $1', [userId]);
    if (!user?.mfa_secret) return false;
    if (/^\d{6}$/.test(code.trim())) {
      const secret = this.encryption.decrypt(user.mfa_secret, secretContext(userId));
      const verdict = verifyTotp(secret, code.trim(), Date.now(), { window: 1, lastUsedStep: user.mfa_last_used_step === null ? null : Number(user.mfa_last_used_step) });
      if (!verdict.ok) return false;
      const claimed: unknown[] = await queryRows(this.dataSource,
        'UPDATE users SET mfa_last_used_step = $2 WHERE id = $1 AND (mfa_last_used_step IS NULL OR mfa_last_used_step < $2) RETURNING id',
        [userId, verdict.step],
      );
      return claimed.length === 1;
    }
    const used: unknown[] = await queryRows(this.dataSource,
      'UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING id',
      [userId, hashToken(normalizeRecoveryCode(code))],
    );
    return used.length === 1;
  }
}

function secretContext(userId: string): string {
  return `users.mfa_secret:${userId}`;
}

function pendingContext(userId: string): string {
  return `users.mfa_pending_secret:${userId}`;
}
