import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { MfaService } from '../auth/mfa.service.js';
import { verifyPassword } from '../auth/passwords.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { SecurityEvents } from '../security/security-events.service.js';

/**
 * Re-authentication for irreversible actions (erasing a customer, closing the business): the
 * caller's password AND a fresh TOTP code (or an unused recovery code), checked with the MFA
 * service's own verification, so a code is accepted once only (replay protection). A member
 * without two-factor authentication cannot confirm such an action. A failure is audited and
 * counted as a security event, and answers 401 without saying which part was wrong.
 */
@Injectable()
export class ReauthService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly mfa: MfaService,
    private readonly audit: AuditService,
    private readonly security: SecurityEvents,
  ) {}

  async confirm(principal: Principal, input: { password: string; code: string }, meta: RequestMeta, purpose: string): Promise<void> {
    const [user]: Array<{ password_hash: string; mfa_enabled: boolean }> = await this.dataSource.query(
      'SELECT password_hash, mfa_enabled_at IS NOT NULL AS mfa_enabled FROM users WHERE id = $1',
      [principal.userId],
    );
    if (!user?.mfa_enabled) {
      throw AppError.forbidden('mfa_required_for_action', 'Turn on two-factor authentication first: this action needs your password and a code.');
    }
    const passwordOk = await verifyPassword(input.password, user.password_hash);
    // The code is only spent when the password is right, so a wrong password cannot burn a valid code.
    const codeOk = passwordOk && (await this.mfa.verifyLoginCode(principal.userId, input.code));
    if (passwordOk && codeOk) return;
    const raised = await this.dataSource.transaction(async (tx) => {
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.reauthentication.failed', entity: { type: 'user', id: principal.userId }, detail: { purpose }, ...meta },
        tx,
      );
      return this.security.raise(tx, {
        businessId: principal.businessId,
        kind: 'reauthentication_failed',
        subject: `user:${principal.userId}`,
        summary: `A member failed to confirm a sensitive action (${purpose}) with their password and code.`,
        detail: { userId: principal.userId, purpose },
      });
    });
    await this.security.alert(raised);
    throw AppError.unauthorized('reauthentication_failed', 'The password or code is not correct.');
  }
}
