/**
 * What counts as a security event, as pure rules over audit events (the scanner applies them)
 * plus the kinds raised directly by the compliance code and by the webhook counter.
 */
export const SECURITY_KINDS = [
  'failed_logins_account',
  'failed_logins_ip',
  'refresh_token_reused',
  'admin_added',
  'role_changed',
  'mfa_disabled',
  'mfa_requirement_disabled',
  'webhook_verification_failures',
  'failed_payments_spike',
  'documents_voided_or_deleted',
  'data_exported',
  'customer_erased',
  'business_closed',
  'retention_changed',
  'reauthentication_failed',
] as const;
export type SecurityKind = (typeof SECURITY_KINDS)[number];
export type Severity = 'info' | 'warning' | 'critical';

const MINUTE = 60_000;

export interface KindInfo {
  severity: Severity;
  /** Short title, used in the alert's subject line. */
  title: string;
  /** A burst ends after this long without a new occurrence; occurrences inside it join the open event. */
  quietMs: number;
  /** For counted kinds: how many occurrences inside `windowMs` make an event. */
  threshold?: number;
  windowMs?: number;
}

export const KIND_INFO: Readonly<Record<SecurityKind, KindInfo>> = {
  failed_logins_account: { severity: 'warning', title: 'repeated failed sign-ins to an account', quietMs: 15 * MINUTE, threshold: 5, windowMs: 15 * MINUTE },
  // Below the login rate limit (10 per 15 minutes per address), so a single address can reach it.
  failed_logins_ip: { severity: 'warning', title: 'repeated failed sign-ins from one address', quietMs: 15 * MINUTE, threshold: 8, windowMs: 15 * MINUTE },
  refresh_token_reused: { severity: 'critical', title: 'a sign-in token was used twice', quietMs: 15 * MINUTE },
  admin_added: { severity: 'warning', title: 'a new admin', quietMs: 15 * MINUTE },
  role_changed: { severity: 'info', title: 'a member’s role changed', quietMs: 15 * MINUTE },
  mfa_disabled: { severity: 'warning', title: 'two-factor authentication was turned off', quietMs: 15 * MINUTE },
  mfa_requirement_disabled: { severity: 'warning', title: 'the two-factor requirement was turned off', quietMs: 15 * MINUTE },
  webhook_verification_failures: { severity: 'warning', title: 'webhooks failing signature verification', quietMs: 15 * MINUTE, threshold: 10, windowMs: 5 * MINUTE },
  failed_payments_spike: { severity: 'warning', title: 'a spike of failed payments', quietMs: 60 * MINUTE, threshold: 5, windowMs: 60 * MINUTE },
  // "More than 10 invoices voided or deleted in an hour."
  documents_voided_or_deleted: { severity: 'warning', title: 'many invoices voided or deleted', quietMs: 60 * MINUTE, threshold: 11, windowMs: 60 * MINUTE },
  data_exported: { severity: 'info', title: 'data was exported', quietMs: 15 * MINUTE },
  customer_erased: { severity: 'info', title: 'a customer’s data was erased', quietMs: 15 * MINUTE },
  business_closed: { severity: 'critical', title: 'the business was closed', quietMs: 15 * MINUTE },
  retention_changed: { severity: 'warning', title: 'the retention period changed', quietMs: 15 * MINUTE },
  reauthentication_failed: { severity: 'warning', title: 'a failed confirmation of a sensitive action', quietMs: 15 * MINUTE },
};

/**
 * Payment failures the payments module writes to the audit trail. Failed checkouts (a declined
 * card, a denied PayPal capture) are not audit events: the scanner counts checkout_sessions
 * that turned `failed` instead (see SecurityScanner.scanFailedPayments).
 */
export const PAYMENT_FAILURE_ACTIONS = ['payment.refund_failed'];

/** The audit actions the scanner reads (everything else is skipped by the query). */
export const SCANNED_ACTIONS = [
  'auth.login.failed',
  'auth.refresh.reuse_detected',
  'member.role_changed',
  'member.joined',
  'auth.mfa.disabled',
  'business.settings_changed',
  'invoice.voided',
  'invoice.deleted',
  'invoice.exported',
  ...PAYMENT_FAILURE_ACTIONS,
];

export interface ScannedEvent {
  id: string;
  businessId: string | null;
  action: string;
  actorType: string;
  actorId: string | null;
  entityType: string | null;
  entityId: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

/**
 * One signal an audit event gives. `each`: every signal is an occurrence (bursts still fold
 * into one event). `threshold`: an event only once `threshold` signals of the same kind and
 * subject fall inside the window. `scope` says whose admins hear about it.
 */
export interface Signal {
  kind: SecurityKind;
  mode: 'each' | 'threshold';
  /** What is counted or grouped: `user:<id>`, `ip:<address>`, `business:<id>`. */
  subject: string;
  /** For IP signals: the targeted account, so the businesses concerned can be found. */
  ref?: string;
  scope: { type: 'business'; businessId: string | null } | { type: 'user-businesses'; userId: string } | { type: 'ip-targets' };
  summary: string;
  detail: Record<string, unknown>;
}

const stringOf = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

export function classify(event: ScannedEvent): Signal[] {
  const business = { type: 'business' as const, businessId: event.businessId };
  switch (event.action) {
    case 'auth.login.failed': {
      const signals: Signal[] = [];
      if (event.entityType === 'user' && event.entityId) {
        signals.push({
          kind: 'failed_logins_account', mode: 'threshold', subject: `user:${event.entityId}`, scope: { type: 'user-businesses', userId: event.entityId },
          summary: 'Repeated failed sign-ins to one member’s account.', detail: { userId: event.entityId },
        });
      }
      if (event.ip) {
        signals.push({
          kind: 'failed_logins_ip', mode: 'threshold', subject: `ip:${event.ip}`, ref: event.entityType === 'user' ? (event.entityId ?? undefined) : undefined, scope: { type: 'ip-targets' },
          summary: 'Repeated failed sign-ins from one network address.', detail: { ip: event.ip },
        });
      }
      return signals;
    }
    case 'auth.refresh.reuse_detected': {
      const userId = stringOf(event.detail.userId) ?? 'unknown';
      return [{ kind: 'refresh_token_reused', mode: 'each', subject: `user:${userId}`, scope: business, summary: 'A refresh token was used a second time; the session was revoked.', detail: { userId, sessionId: event.entityId } }];
    }
    case 'member.role_changed': {
      const to = stringOf(event.detail.to);
      const from = stringOf(event.detail.from);
      const kind: SecurityKind = to === 'admin' ? 'admin_added' : 'role_changed';
      return [{ kind, mode: 'each', subject: `user:${event.entityId ?? 'unknown'}`, scope: business, summary: to === 'admin' ? 'A member was made admin.' : `A member’s role changed from ${from ?? '?'} to ${to ?? '?'}.`, detail: { userId: event.entityId, from, to, by: event.actorId } }];
    }
    case 'member.joined':
      if (stringOf(event.detail.role) !== 'admin') return [];
      return [{ kind: 'admin_added', mode: 'each', subject: `user:${event.actorId ?? 'unknown'}`, scope: business, summary: 'A new admin joined the business.', detail: { userId: event.actorId } }];
    case 'auth.mfa.disabled':
      return [{ kind: 'mfa_disabled', mode: 'each', subject: `user:${event.entityId ?? 'unknown'}`, scope: business, summary: 'A member turned two-factor authentication off.', detail: { userId: event.entityId } }];
    case 'business.settings_changed':
      if (event.detail.requireMfa !== false) return [];
      return [{ kind: 'mfa_requirement_disabled', mode: 'each', subject: 'business', scope: business, summary: 'The business no longer requires two-factor authentication.', detail: { by: event.actorId } }];
    case 'invoice.voided':
    case 'invoice.deleted':
      return [{ kind: 'documents_voided_or_deleted', mode: 'threshold', subject: `business:${event.businessId}`, scope: business, summary: 'More than 10 invoices were voided or deleted within an hour.', detail: {} }];
    case 'invoice.exported':
      return [{ kind: 'data_exported', mode: 'each', subject: 'invoices', scope: business, summary: 'Invoices were exported.', detail: { what: 'invoices', by: event.actorId } }];
    default:
      if (PAYMENT_FAILURE_ACTIONS.includes(event.action)) {
        return [{ kind: 'failed_payments_spike', mode: 'threshold', subject: `business:${event.businessId}`, scope: business, summary: 'An unusual number of payments failed within an hour.', detail: {} }];
      }
      return [];
  }
}

/** The key of one burst: scope, kind and (for counted and per-person kinds) the subject. */
export function burstKey(businessId: string | null, kind: SecurityKind, subject: string | null | undefined): string {
  return `${businessId ?? 'platform'}|${kind}|${subject ?? ''}`;
}
