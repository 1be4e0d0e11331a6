import { Inject, Injectable } from '@nestjs/common';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { queryRows } from '../database/sql.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';
import { authenticLink, documentLink, isExpired, linkQuery, MAX_LINK_TTL_DAYS, type LinkClaims, type LinkKind } from './link-signing.js';
import type { DocumentOpen, LinkSettings } from './links.dto.js';
import { FRESH_LINK_DOCUMENT_LIMIT, FRESH_LINK_DOCUMENT_WINDOW_MS, rateLimited } from './public-pages.throttler.js';

export type DocumentType = 'invoice' | 'estimate';

const TYPE_OF: Record<LinkKind, DocumentType> = { pay: 'invoice', estimate: 'estimate' };
export const KIND_OF: Record<DocumentType, LinkKind> = { invoice: 'pay', estimate: 'estimate' };
// Fixed table names (never from input).
const TABLE: Record<DocumentType, 'invoices' | 'estimates'> = { invoice: 'invoices', estimate: 'estimates' };

/** What an authentic, current link points at, loaded once after its signature was verified. */
export interface LinkTarget {
  kind: LinkKind;
  type: DocumentType;
  documentId: string;
  businessId: string;
  business: { name: string; address: string | null; paymentInstructions: string | null };
  /** `erased`: the customer's data was erased; what they do now is recorded without their IP or browser. */
  customer: { id: string; name: string; email: string | null; erased: boolean };
  status: string;
  ttlDays: number;
  linkEpoch: number;
  claims: LinkClaims;
  /** The canonical `?t=…&d=…&e=…` of the link (other query parameters dropped). */
  query: string;
}

/**
 * invalid: tampered, wrong kind, revoked (epoch bumped), unknown, draft, or closed business.
 * expired: authentic and current, but past the business's lifetime (offers a fresh link).
 */
export type LinkCheck = { outcome: 'ok'; target: LinkTarget } | { outcome: 'expired'; target: LinkTarget } | { outcome: 'invalid' };

interface TargetRow {
  business_id: string;
  status: string;
  customer_id: string;
  business_name: string;
  business_address: string | null;
  payment_instructions: string | null;
  link_epoch: number;
  link_ttl_days: number;
  closed: boolean;
  customer_name: string;
  customer_email: string | null;
  customer_erased: boolean;
}

/** What may be stored of the visitor behind a link: nothing identifying once the customer has been erased. */
export function visitorMeta(target: LinkTarget, meta: RequestMeta): RequestMeta {
  return target.customer.erased ? { ...meta, ip: null, userAgent: null } : meta;
}

const MAX_OPENS_LISTED = 500;

/**
 * A business's link settings, for code outside this module that builds links with
 * `documentLink` (e.g. InvoicesService.send for the invoice email, inside its transaction):
 * InvoicesModule cannot inject LinksService (LinksModule imports InvoicesModule).
 */
export async function loadLinkSettings(runner: Pick<DataSource, 'query'>, businessId: string): Promise<{ linkEpoch: number; ttlDays: number; closed: boolean }> {
  const [row]: Array<{ link_epoch: number; link_ttl_days: number; closed: boolean }> = await runner.query(
    'SELECT link_epoch, link_ttl_days, closed_at IS NOT NULL AS closed FROM businesses WHERE id = $1',
    [businessId],
  );
  if (!row) throw new Error(`no business ${businessId}`);
  return { linkEpoch: row.link_epoch, ttlDays: row.link_ttl_days, closed: row.closed };
}

/** The signed link an email carries, made by the same builder as the share endpoints. */
export async function emailLink(
  runner: Pick<DataSource, 'query'>,
  config: Pick<AppConfig, 'baseUrl' | 'linkSigningKeys'>,
  input: { kind: LinkKind; businessId: string; documentId: string },
): Promise<{ url: string; expiresAt: string }> {
  const settings = await loadLinkSettings(runner, input.businessId);
  return documentLink(config, { kind: input.kind, documentId: input.documentId, linkEpoch: settings.linkEpoch, ttlDays: settings.ttlDays });
}

function notFound(type: DocumentType): AppError {
  return type === 'invoice' ? AppError.notFound('invoice_not_found', 'No such invoice.') : AppError.notFound('estimate_not_found', 'No such estimate.');
}

/**
 * Signed links: making them (share endpoints), revoking them all, the business's link settings
 * and list of opens; and, for the public pages, deciding what a presented link may see.
 *
 * Order of checks for a presented link (see `check`): shape of id, t, d and e → HMAC with every
 * configured key (constant time) → issue day not in the future — all before any database read;
 * then one read of the document with its business and customer → business open, epoch equal to
 * the business's current epoch, document finalised → lifetime (business setting, at most 60
 * days after `d`).
 */
@Injectable()
export class LinksService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
    @InjectThrottlerStorage() private readonly counters: ThrottlerStorage,
  ) {}

  // -------------------------------------------------------------------------------------------
  // The business's side

  /** POST /v1/invoices/:id/link and /v1/estimates/:id/link: a link to share by text message. */
  async createLink(principal: Principal, type: DocumentType, id: string, meta: RequestMeta): Promise<{ url: string; expiresAt: string }> {
    const [row]: Array<{ status: string; link_epoch: number; link_ttl_days: number; closed: boolean }> = await this.dataSource.query(
      `SELECT d.status, b.link_epoch, b.link_ttl_days, b.closed_at IS NOT NULL AS closed
         FROM ${TABLE[type]} d JOIN businesses b ON b.id = d.business_id
        WHERE d.business_id = $1 AND d.id = $2`,
      [principal.businessId, id],
    );
    if (!row) throw notFound(type);
    if (row.status === 'draft') {
      throw type === 'invoice'
        ? AppError.conflict('invoice_not_finalized', 'Finalise the invoice first: a draft has no link.')
        : AppError.conflict('estimate_not_sent', 'Send the estimate first: a draft has no link.');
    }
    if (row.closed) throw AppError.conflict('business_closed', 'This business is closed: its links do not work.');
    const link = documentLink(this.config, { kind: KIND_OF[type], documentId: id, linkEpoch: row.link_epoch, ttlDays: row.link_ttl_days });
    await this.audit.record({
      businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: `${type}.link_created`, entity: { type, id },
      detail: { expiresAt: link.expiresAt, linkEpoch: row.link_epoch }, ...meta,
    });
    return link;
  }

  /** Bumps the business's link epoch: every link made before stops working (401) at once. */
  async revokeAll(principal: Principal, meta: RequestMeta): Promise<{ revokedAt: string; linkEpoch: number }> {
    return this.dataSource.transaction(async (tx) => {
      const [row] = await queryRows<{ link_epoch: number; revoked_at: Date }>(tx, 'UPDATE businesses SET link_epoch = link_epoch + 1 WHERE id = $1 RETURNING link_epoch, now() AS revoked_at', [principal.businessId]);
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'business.links_revoked', entity: { type: 'business', id: principal.businessId }, detail: { linkEpoch: row.link_epoch }, ...meta },
        tx,
      );
      return { revokedAt: row.revoked_at.toISOString(), linkEpoch: row.link_epoch };
    });
  }

  async settings(businessId: string): Promise<LinkSettings> {
    const [row]: Array<{ link_ttl_days: number }> = await this.dataSource.query('SELECT link_ttl_days FROM businesses WHERE id = $1', [businessId]);
    return { ttlDays: row.link_ttl_days, maxTtlDays: MAX_LINK_TTL_DAYS };
  }

  /** A shorter lifetime applies to links already out too (they are checked against the current setting). */
  async updateSettings(principal: Principal, input: { ttlDays: number }, meta: RequestMeta): Promise<LinkSettings> {
    await this.dataSource.transaction(async (tx) => {
      await queryRows(tx, 'UPDATE businesses SET link_ttl_days = $2 WHERE id = $1', [principal.businessId, input.ttlDays]);
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'business.link_settings_changed', entity: { type: 'business', id: principal.businessId }, detail: { ttlDays: input.ttlDays }, ...meta },
        tx,
      );
    });
    return this.settings(principal.businessId);
  }

  /** The opens of one document through its links, newest first (at most 500 listed, all counted). */
  async opens(businessId: string, type: DocumentType, id: string): Promise<{ data: DocumentOpen[]; total: number }> {
    const exists: unknown[] = await this.dataSource.query(`SELECT 1 FROM ${TABLE[type]} WHERE business_id = $1 AND id = $2`, [businessId, id]);
    if (exists.length === 0) throw notFound(type);
    const [rows, [count]]: [Array<{ opened_at: Date; ip: string | null; user_agent: string | null }>, Array<{ total: string }>] = await Promise.all([
      this.dataSource.query(
        `SELECT opened_at, ip, user_agent FROM document_opens WHERE business_id = $1 AND document_type = $2 AND document_id = $3
          ORDER BY opened_at DESC, id DESC LIMIT ${MAX_OPENS_LISTED}`,
        [businessId, type, id],
      ),
      this.dataSource.query('SELECT count(*) AS total FROM document_opens WHERE business_id = $1 AND document_type = $2 AND document_id = $3', [businessId, type, id]),
    ]);
    return { data: rows.map((row) => ({ openedAt: row.opened_at.toISOString(), ip: row.ip, userAgent: row.user_agent })), total: Number(count.total) };
  }

  // -------------------------------------------------------------------------------------------
  // The customer's side

  /** Decides what a presented link may see. Nothing is read from the database unless the signature is valid. */
  async check(kind: LinkKind, documentId: unknown, query: unknown, now: Date = new Date()): Promise<LinkCheck> {
    // 1. Pure: shape, then the HMAC under every configured key, then "not issued in the future".
    const link = authenticLink(kind, documentId, query, this.config.linkSigningKeys, now);
    if (!link) return { outcome: 'invalid' };
    const { claims } = link;
    // 2. Only an authentic link gets here. The lookup is by document id alone (not scoped by a
    //    principal's business): the id is the one the HMAC vouches for.
    const type = TYPE_OF[kind];
    const [row]: TargetRow[] = await this.dataSource.query(
      `SELECT d.business_id, d.status, d.customer_id, b.name AS business_name, b.address AS business_address, b.payment_instructions,
              b.link_epoch, b.link_ttl_days, b.closed_at IS NOT NULL AS closed, c.name AS customer_name, c.email AS customer_email,
              EXISTS (SELECT 1 FROM customer_erasures e WHERE e.business_id = d.business_id AND e.customer_id = d.customer_id) AS customer_erased
         FROM ${TABLE[type]} d
         JOIN businesses b ON b.id = d.business_id
         JOIN customers c ON c.business_id = d.business_id AND c.id = d.customer_id
        WHERE d.id = $1`,
      [claims.documentId],
    );
    // 3. Unknown, closed business, revoked (epoch bumped since the link was made), or a draft.
    if (!row || row.closed || row.link_epoch !== claims.linkEpoch || row.status === 'draft') return { outcome: 'invalid' };
    const target: LinkTarget = {
      kind,
      type,
      documentId: claims.documentId,
      businessId: row.business_id,
      business: { name: row.business_name, address: row.business_address, paymentInstructions: row.payment_instructions },
      customer: { id: row.customer_id, name: row.customer_name, email: row.customer_email, erased: row.customer_erased },
      status: row.status,
      ttlDays: row.link_ttl_days,
      linkEpoch: row.link_epoch,
      claims,
      query: linkQuery(claims, link.signature),
    };
    // 4. The lifetime: the business's setting (1..60 days) after the issue day.
    return isExpired(claims.day, row.link_ttl_days, now) ? { outcome: 'expired', target } : { outcome: 'ok', target };
  }

  /** Every open is a `document_opens` row and an audit event (through the inbox); the first marks nothing here (the document service does). */
  async recordOpen(target: LinkTarget, meta: RequestMeta): Promise<void> {
    meta = visitorMeta(target, meta);
    await Promise.all([
      this.dataSource.query('INSERT INTO document_opens (business_id, document_type, document_id, ip, user_agent) VALUES ($1, $2, $3, $4, $5)', [
        target.businessId, target.type, target.documentId, meta.ip?.slice(0, 64) ?? null, meta.userAgent?.slice(0, 512) ?? null,
      ]),
      this.audit.recordSoon({
        businessId: target.businessId, actor: { type: 'customer', id: target.customer.id }, action: `${target.type}.link_opened`, entity: { type: target.type, id: target.documentId },
        detail: { linkDay: target.claims.day }, ...meta,
      }),
    ]);
  }

  /** A PDF download through the link: an audit event, not an open. */
  async recordPdfDownload(target: LinkTarget, meta: RequestMeta): Promise<void> {
    await this.audit.recordSoon({ businessId: target.businessId, actor: { type: 'customer', id: target.customer.id }, action: `${target.type}.link_pdf_downloaded`, entity: { type: target.type, id: target.documentId }, ...meta });
  }

  /**
   * "Send me a fresh link": a new link (today, current epoch) emailed to the customer's address
   * on file — never to one given in the request, which is not even read. At most
   * FRESH_LINK_DOCUMENT_LIMIT per document per hour, whoever asks (429 beyond); the per-IP limit
   * is the guard's. The answer does not say whether an address was on file.
   */
  async sendFreshLink(target: LinkTarget, meta: RequestMeta, documentLabel: string): Promise<void> {
    const budget = await this.counters.increment(`pages:fresh-link:document:${target.documentId}`, FRESH_LINK_DOCUMENT_WINDOW_MS, FRESH_LINK_DOCUMENT_LIMIT, FRESH_LINK_DOCUMENT_WINDOW_MS, 'pages');
    if (budget.totalHits > FRESH_LINK_DOCUMENT_LIMIT) throw rateLimited(budget.timeToExpire, 'A fresh link was sent for this document recently. Check your email, or try again later.');
    const to = target.customer.email;
    const emailId = await this.dataSource.transaction(async (tx) => {
      let id: string | null = null;
      if (to) {
        const link = documentLink(this.config, { kind: target.kind, documentId: target.documentId, linkEpoch: target.linkEpoch, ttlDays: target.ttlDays });
        id = await this.outbox.enqueue(tx, {
          businessId: target.businessId,
          to,
          template: 'freshLink',
          content: templates.freshLink({
            businessName: target.business.name,
            customerName: target.customer.name,
            documentLabel,
            actionLabel: target.type === 'invoice' ? 'View and pay the invoice' : 'View and answer the estimate',
            url: link.url,
            validUntil: new Date(Date.parse(link.expiresAt) - 1).toISOString().slice(0, 10),
          }),
        });
      }
      await this.audit.record(
        { businessId: target.businessId, actor: { type: 'customer', id: target.customer.id }, action: `${target.type}.fresh_link_requested`, entity: { type: target.type, id: target.documentId }, detail: { emailed: id !== null, ...(id ? { emailId: id } : {}) }, ...meta },
        tx,
      );
      return id;
    });
    if (emailId) await this.outbox.dispatch([emailId]);
  }
}
