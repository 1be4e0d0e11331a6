import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { EmailOutbox } from './email-outbox.service.js';
import { safeUrl, templates } from './templates.js';
import type { UpdateNotificationSettingsDto } from './notifications.dto.js';

export interface NotificationSettingsView {
  reviewRequestsEnabled: boolean;
  reviewUrl: string | null;
}

/** An https URL without credentials, or a 400 naming reviewUrl. */
function checkReviewUrl(value: string): string {
  const url = safeUrl(value);
  let parsed: URL | undefined;
  try {
    parsed = url ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!url || !parsed || parsed.protocol !== 'https:' || parsed.username || parsed.password || url !== value.trim()) {
    throw AppError.validation([{ field: 'reviewUrl', code: 'invalid_url', message: 'reviewUrl must be an https URL on one line, without credentials' }]);
  }
  return url;
}

/**
 * Per-business email settings: review requests (off by default). The payments module calls
 * `queueReviewRequest` in the transaction that applies a payment, next to its receipt.
 */
@Injectable()
export class NotificationSettingsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: EmailOutbox,
    private readonly audit: AuditService,
  ) {}

  async get(businessId: string, runner: Pick<EntityManager, 'query'> = this.dataSource): Promise<NotificationSettingsView> {
    const [row]: Array<{ review_requests_enabled: boolean; review_url: string | null }> = await runner.query(
      'SELECT review_requests_enabled, review_url FROM notification_settings WHERE business_id = $1',
      [businessId],
    );
    return { reviewRequestsEnabled: row?.review_requests_enabled ?? false, reviewUrl: row?.review_url ?? null };
  }

  async update(principal: Principal, body: UpdateNotificationSettingsDto, meta: RequestMeta): Promise<NotificationSettingsView> {
    return this.dataSource.transaction(async (tx) => {
      const current = await this.get(principal.businessId, tx);
      const next: NotificationSettingsView = {
        reviewRequestsEnabled: body.reviewRequestsEnabled ?? current.reviewRequestsEnabled,
        reviewUrl: body.reviewUrl === undefined ? current.reviewUrl : body.reviewUrl === null ? null : checkReviewUrl(body.reviewUrl),
      };
      if (next.reviewRequestsEnabled && !next.reviewUrl) {
        throw AppError.validation([{ field: 'reviewUrl', code: 'review_url_required', message: 'review requests need a reviewUrl' }]);
      }
      await tx.query(
        `INSERT INTO notification_settings (business_id, review_requests_enabled, review_url, updated_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (business_id) DO UPDATE SET review_requests_enabled = $2, review_url = $3, updated_by = $4, updated_at = now()`,
        [principal.businessId, next.reviewRequestsEnabled, next.reviewUrl, principal.userId],
      );
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'notification_settings.updated', entity: { type: 'business', id: principal.businessId }, detail: { reviewRequestsEnabled: next.reviewRequestsEnabled }, ...meta },
        tx,
      );
      return next;
    });
  }

  /**
   * For the payments module, inside the transaction that applies a payment (after the receipt
   * row): queues the review request when the business turned it on and gave a URL, once per
   * invoice. Returns the email id to dispatch after commit, or undefined.
   */
  async queueReviewRequest(tx: EntityManager, businessId: string, invoiceId: string): Promise<string | undefined> {
    const settings = await this.get(businessId, tx);
    if (!settings.reviewRequestsEnabled || !settings.reviewUrl) return undefined;
    const [target]: Array<{ email: string | null; customer_name: string; business_name: string; asked: boolean }> = await tx.query(
      `SELECT c.email, c.name AS customer_name, b.name AS business_name,
              EXISTS (SELECT 1 FROM emails e WHERE e.business_id = i.business_id AND e.document_type = 'invoice' AND e.document_id = i.id AND e.template = 'reviewRequest') AS asked
         FROM invoices i JOIN customers c ON c.business_id = i.business_id AND c.id = i.customer_id JOIN businesses b ON b.id = i.business_id
        WHERE i.business_id = $1 AND i.id = $2`,
      [businessId, invoiceId],
    );
    if (!target?.email || target.asked) return undefined;
    return this.outbox.enqueue(tx, {
      businessId,
      to: target.email,
      template: 'reviewRequest',
      content: templates.reviewRequest({ businessName: target.business_name, customerName: target.customer_name, reviewUrl: settings.reviewUrl }),
      document: { type: 'invoice', id: invoiceId },
    });
  }
}
