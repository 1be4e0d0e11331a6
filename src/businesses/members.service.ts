import { Inject, Injectable } from '@nestjs/common';
import { queryRows } from '../database/sql.js';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { assertPassword } from '../auth/auth.service.js';
import { canonicalEmail } from '../auth/email.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import type { Role } from '../auth/roles.js';
import { SessionsService } from '../auth/sessions.service.js';
import { hashToken, randomToken } from '../auth/tokens.js';
import { AppError, type FieldError } from '../common/errors/app-error.js';
import { cardNumberErrors, throwIfErrors } from '../common/free-text.js';
import { validateNumberFormat } from '../invoices/numbering.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';

const INVITATION_DAYS = 7;

export interface BusinessSettings {
  name: string;
  requireMfa: boolean;
  invoiceNumberFormat: string;
  estimateNumberFormat: string;
  creditNoteNumberFormat: string;
  defaultNetDays: number;
  address: string | null;
  paymentInstructions: string | null;
}

export interface MemberView {
  userId: string;
  name: string;
  email: string;
  role: Role;
  mfaEnabled: boolean;
  joinedAt: Date;
}

/**
 * The people of a business: members, invitations, role changes and removal. Every query is
 * scoped by the caller's business id, so another business's user id answers 404. The last
 * admin can be neither demoted nor removed (checked under a lock on the admin rows).
 */
@Injectable()
export class MembersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
    private readonly sessions: SessionsService,
  ) {}

  async list(businessId: string): Promise<MemberView[]> {
    const rows: Array<{ user_id: string; name: string; email: string; role: Role; mfa_enabled: boolean; created_at: Date }> = await this.dataSource.query(
      `SELECT m.user_id, u.name, u.email, m.role, u.mfa_enabled_at IS NOT NULL AS mfa_enabled, m.created_at
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.business_id = $1 ORDER BY m.created_at, u.email`,
      [businessId],
    );
    return rows.map((row) => ({ userId: row.user_id, name: row.name, email: row.email, role: row.role, mfaEnabled: row.mfa_enabled, joinedAt: row.created_at }));
  }

  async invite(principal: Principal, input: { email: string; role: Role }, meta: RequestMeta): Promise<{ id: string; email: string; role: Role; expiresAt: Date }> {
    const email = canonicalEmail(input.email);
    const token = randomToken();
    const result = await this.dataSource.transaction(async (tx) => {
      const existing: unknown[] = await tx.query('SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.business_id = $1 AND u.email = $2', [principal.businessId, email]);
      if (existing.length > 0) throw AppError.conflict('already_a_member', 'This person is already a member of the business.');
      const [invitation]: Array<{ id: string; expires_at: Date }> = await tx.query(
        `INSERT INTO invitations (business_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + interval '${INVITATION_DAYS} days') RETURNING id, expires_at`,
        [principal.businessId, email, input.role, hashToken(token), principal.userId],
      );
      const [names]: Array<{ business_name: string; inviter_name: string }> = await tx.query(
        'SELECT b.name AS business_name, u.name AS inviter_name FROM businesses b, users u WHERE b.id = $1 AND u.id = $2',
        [principal.businessId, principal.userId],
      );
      const emailId = await this.outbox.enqueue(tx, {
        businessId: principal.businessId,
        to: email,
        template: 'invitation',
        content: templates.invitation({
          businessName: names.business_name,
          inviterName: names.inviter_name,
          role: input.role,
          token,
          acceptUrl: `${this.config.baseUrl}/accept-invitation#token=${encodeURIComponent(token)}`,
        }),
      });
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'member.invited', entity: { type: 'invitation', id: invitation.id }, detail: { role: input.role }, ...meta },
        tx,
      );
      return { invitation, emailId };
    });
    await this.outbox.dispatch([result.emailId]);
    return { id: result.invitation.id, email, role: input.role, expiresAt: result.invitation.expires_at };
  }

  /** Single use: the invitation row is claimed with one conditional UPDATE. */
  async acceptInvitation(input: { token: string; name: string; password: string }, meta: RequestMeta): Promise<{ businessId: string; userId: string; role: Role }> {
    const tokenHash = hashToken(input.token);
    const [invitation]: Array<{ email: string }> = await this.dataSource.query(
      'SELECT email FROM invitations WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()',
      [tokenHash],
    );
    if (!invitation) throw AppError.unauthorized('invalid_invitation', 'This invitation is invalid, used or expired.');
    const [existingUser]: Array<{ id: string; password_hash: string }> = await this.dataSource.query('SELECT id, password_hash FROM users WHERE email = $1', [invitation.email]);
    // Someone who already has an account proves it with their password; a new person sets one.
    if (existingUser) {
      if (!(await verifyPassword(input.password, existingUser.password_hash))) throw AppError.unauthorized('invalid_credentials', 'The password is not correct for the existing account.');
    } else {
      assertPassword(input.password, { email: invitation.email, name: input.name });
    }
    const passwordHash = existingUser ? undefined : await hashPassword(input.password);
    return this.dataSource.transaction(async (tx) => {
      const claimed: Array<{ id: string; business_id: string; role: Role }> = await queryRows(tx,
        `UPDATE invitations SET accepted_at = now() WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
         RETURNING id, business_id, role`,
        [tokenHash],
      );
      if (claimed.length === 0) throw AppError.unauthorized('invalid_invitation', 'This invitation is invalid, used or expired.');
      const { business_id: businessId, role } = claimed[0];
      let userId = existingUser?.id;
      if (!userId) {
        const [user]: Array<{ id: string }> = await tx.query('INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id', [invitation.email, input.name, passwordHash]);
        userId = user.id;
      }
      await tx.query('INSERT INTO memberships (business_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [businessId, userId, role]);
      await this.audit.record({ businessId, actor: { type: 'user', id: userId }, action: 'member.joined', entity: { type: 'invitation', id: claimed[0].id }, detail: { role }, ...meta }, tx);
      return { businessId, userId, role };
    });
  }

  async changeRole(principal: Principal, userId: string, role: Role, meta: RequestMeta): Promise<MemberView> {
    await this.dataSource.transaction(async (tx) => {
      const current = await this.lockMember(tx, principal.businessId, userId);
      if (current === role) return;
      if (current === 'admin') await this.assertAnotherAdmin(tx, principal.businessId, userId);
      await queryRows(tx,'UPDATE memberships SET role = $3 WHERE business_id = $1 AND user_id = $2', [principal.businessId, userId, role]);
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'member.role_changed', entity: { type: 'user', id: userId }, detail: { from: current, to: role }, ...meta },
        tx,
      );
    });
    const member = (await this.list(principal.businessId)).find((item) => item.userId === userId);
    if (!member) throw AppError.notFound('member_not_found', 'No such member.');
    return member;
  }

  async remove(principal: Principal, userId: string, meta: RequestMeta): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const current = await this.lockMember(tx, principal.businessId, userId);
      if (current === 'admin') await this.assertAnotherAdmin(tx, principal.businessId, userId);
      await queryRows(tx,'DELETE FROM memberships WHERE business_id = $1 AND user_id = $2', [principal.businessId, userId]);
      const revoked = await this.sessions.revokeForMember(tx, userId, principal.businessId, 'member_removed');
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'member.removed', entity: { type: 'user', id: userId }, detail: { role: current, sessionsRevoked: revoked }, ...meta },
        tx,
      );
    });
  }

  async settings(businessId: string): Promise<BusinessSettings> {
    const [row]: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT name, require_mfa, invoice_number_format, estimate_number_format, credit_note_number_format, default_net_days, address, payment_instructions
         FROM businesses WHERE id = $1`,
      [businessId],
    );
    return {
      name: row.name as string,
      requireMfa: row.require_mfa as boolean,
      invoiceNumberFormat: row.invoice_number_format as string,
      estimateNumberFormat: row.estimate_number_format as string,
      creditNoteNumberFormat: row.credit_note_number_format as string,
      defaultNetDays: row.default_net_days as number,
      address: row.address as string | null,
      paymentInstructions: row.payment_instructions as string | null,
    };
  }

  async updateSettings(principal: Principal, input: Partial<BusinessSettings>, meta: RequestMeta): Promise<BusinessSettings> {
    const errors: FieldError[] = cardNumberErrors({ address: input.address, paymentInstructions: input.paymentInstructions });
    for (const field of ['invoiceNumberFormat', 'estimateNumberFormat', 'creditNoteNumberFormat'] as const) {
      const format = input[field];
      if (format === undefined) continue;
      const verdict = validateNumberFormat(format);
      if (!verdict.ok) errors.push({ field, code: 'invalid_number_format', message: `${field}: ${verdict.message}` });
    }
    throwIfErrors(errors);
    const columns: Record<keyof BusinessSettings, string> = {
      name: 'name', requireMfa: 'require_mfa', invoiceNumberFormat: 'invoice_number_format', estimateNumberFormat: 'estimate_number_format',
      creditNoteNumberFormat: 'credit_note_number_format', defaultNetDays: 'default_net_days', address: 'address', paymentInstructions: 'payment_instructions',
    };
    const changed = (Object.keys(columns) as Array<keyof BusinessSettings>).filter((key) => input[key] !== undefined);
    if (changed.length === 0) return this.settings(principal.businessId);
    await this.dataSource.transaction(async (tx) => {
      await queryRows(tx, `UPDATE businesses SET ${changed.map((key, index) => `${columns[key]} = $${index + 2}`).join(', ')} WHERE id = $1`, [principal.businessId, ...changed.map((key) => input[key])]);
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'business.settings_changed', entity: { type: 'business', id: principal.businessId }, detail: { changedFields: changed, ...(input.requireMfa !== undefined ? { requireMfa: input.requireMfa } : {}) }, ...meta }, tx);
    });
    return this.settings(principal.businessId);
  }

  private async lockMember(tx: EntityManager, businessId: string, userId: string): Promise<Role> {
    // Lock every admin row of the business first (fixed order), so two concurrent demotions
    // cannot both see "another admin remains".
    await tx.query(`SELECT user_id FROM memberships WHERE business_id = $1 AND role = 'admin' ORDER BY user_id FOR UPDATE`, [businessId]);
    const rows: Array<{ role: Role }> = await tx.query('SELECT role FROM memberships WHERE business_id = $1 AND user_id = $2 FOR UPDATE', [businessId, userId]);
    if (rows.length === 0) throw AppError.notFound('member_not_found', 'No such member.');
    return rows[0].role;
  }

  private async assertAnotherAdmin(tx: EntityManager, businessId: string, userId: string): Promise<void> {
    const [row]: Array<{ count: string }> = await tx.query(`SELECT count(*) FROM memberships WHERE business_id = $1 AND role = 'admin' AND user_id <> $2`, [businessId, userId]);
    if (Number(row.count) === 0) throw AppError.conflict('last_admin', 'A business needs at least one admin: promote someone else first.');
  }
}
