import { Inject, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { queryRows } from '../database/sql.js';
import { withAdvisoryXactLock } from '../jobs/advisory-lock.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import { PermanentEventError, ProviderEvents, type EventOutcome } from '../payments/provider-events.service.js';
import { redactProviderPayload, type DeliveredEvent } from './webhook-payload.js';

export type WebhookProvider = 'stripe' | 'paypal';
export type WebhookEventStatus = 'received' | 'processed' | 'failed';

export interface WebhookEventView {
  id: string;
  provider: WebhookProvider;
  eventId: string;
  eventType: string;
  status: WebhookEventStatus;
  outcome: string | null;
  failureReason: string | null;
  attempts: number;
  receivedAt: string;
  processedAt: string | null;
}

interface WebhookEventRow {
  id: string;
  provider: WebhookProvider;
  event_id: string;
  event_type: string;
  status: WebhookEventStatus;
  outcome: string | null;
  failure_reason: string | null;
  attempts: number;
  received_at: Date;
  processed_at: Date | null;
}

const TIMESTAMP_SHAPE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}(?::\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The durable inbox of verified provider events. Intake stores each event once under the
 * unique `(provider, event_id)` (a duplicate delivery changes nothing) and queues a job with
 * the row id as job id after the insert has committed; a sweeper re-queues rows whose job was
 * lost. The job hands the stored (redacted) event to ProviderEvents: success marks it
 * processed, a permanent problem marks it failed with the reason (admins see it), anything
 * else is retried by the queue and marked failed once the attempts are spent. The worker never
 * crashes on an event.
 */
@Injectable()
export class WebhookInbox {
  private sweeping = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobsService,
    private readonly events: ProviderEvents,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Stores a verified delivery (once) and queues it; answers whether it was a duplicate. */
  async receive(provider: WebhookProvider, delivery: DeliveredEvent, signature: string): Promise<{ id: string; duplicate: boolean }> {
    const status: WebhookEventStatus = delivery.malformed ? 'failed' : 'received';
    const inserted: Array<{ id: string }> = await this.dataSource.query(
      `INSERT INTO webhook_events (provider, event_id, event_type, livemode, payload, signature, status, failure_reason, processed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $7 = 'failed' THEN now() END)
       ON CONFLICT ON CONSTRAINT webhook_events_provider_event_key DO NOTHING RETURNING id`,
      [provider, delivery.eventId, delivery.eventType, delivery.livemode, JSON.stringify(redactProviderPayload(delivery.payload)), signature.slice(0, 2000), status, delivery.malformed ?? null],
    );
    if (inserted.length > 0) {
      if (delivery.malformed) this.logger.warn({ provider, eventId: delivery.eventId, reason: delivery.malformed }, 'verified webhook event is malformed; stored as failed');
      else await this.dispatch(inserted[0].id);
      return { id: inserted[0].id, duplicate: false };
    }
    const [existing]: Array<{ id: string; status: WebhookEventStatus }> = await this.dataSource.query('SELECT id, status FROM webhook_events WHERE provider = $1 AND event_id = $2', [provider, delivery.eventId]);
    // Still waiting: queue again (same job id, so a queued job is not duplicated).
    if (existing?.status === 'received') await this.dispatch(existing.id);
    return { id: existing?.id ?? '', duplicate: true };
  }

  @JobHandler('webhooks.process')
  async process(payload: { eventId: string }, job?: Job): Promise<void> {
    if (!UUID.test(payload.eventId)) return;
    const [row]: Array<{ provider: WebhookProvider; event_id: string; event_type: string; payload: unknown }> = await queryRows(this.dataSource,
      `UPDATE webhook_events SET attempts = attempts + 1 WHERE id = $1 AND status = 'received' RETURNING provider, event_id, event_type, payload`,
      [payload.eventId],
    );
    if (!row) return; // processed or failed already: at most one effect per event
    let outcome: EventOutcome;
    try {
      outcome = row.provider === 'stripe' ? await this.events.handleStripe(row.payload) : await this.events.handlePaypal(row.payload);
    } catch (error) {
      if (error instanceof PermanentEventError) {
        await this.finish(payload.eventId, 'failed', null, error.reason, error.businessId);
        this.logger.warn({ provider: row.provider, eventId: row.event_id, type: row.event_type, reason: error.reason }, 'webhook event failed for good');
        return;
      }
      const final = job ? job.attemptsMade + 1 >= (job.opts.attempts ?? 1) : false;
      if (!final) throw error;
      const reason = `gave up after ${job?.attemptsMade !== undefined ? job.attemptsMade + 1 : 1} attempts: ${(error as Error).message ?? String(error)}`.slice(0, 1000);
      await this.finish(payload.eventId, 'failed', null, reason, null);
      this.logger.error({ provider: row.provider, eventId: row.event_id, type: row.event_type, err: error }, 'webhook event failed after its last attempt');
      return;
    }
    await this.finish(payload.eventId, 'processed', outcome.outcome, null, outcome.businessId);
  }

  /** Re-queues events left unqueued (a crash or a queue outage between insert and enqueue). */
  @Interval('webhooks.sweep', 30_000)
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const ids = await withAdvisoryXactLock(this.dataSource, 'webhooks.sweep', async (tx) => {
        const rows: Array<{ id: string }> = await tx.query(`SELECT id FROM webhook_events WHERE status = 'received' AND received_at < now() - interval '1 minute' ORDER BY received_at LIMIT 500`);
        return rows.map((item) => item.id);
      });
      for (const id of ids ?? []) await this.dispatch(id);
    } catch (error) {
      this.logger.warn({ err: error }, 'webhook sweep failed; will retry');
    } finally {
      this.sweeping = false;
    }
  }

  /** A business's events, newest first (admins: failures to act on). */
  async list(businessId: string, query: { status?: WebhookEventStatus; provider?: WebhookProvider; limit?: number; cursor?: string }): Promise<Page<WebhookEventView>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const params: unknown[] = [businessId];
    const where = ['business_id = $1'];
    if (query.status) where.push(`status = $${params.push(query.status)}`);
    if (query.provider) where.push(`provider = $${params.push(query.provider)}`);
    if (query.cursor) {
      const [receivedAt, id] = decodeCursor(query.cursor, 'webhook-events', 2);
      if (!UUID_SHAPE.test(id) || !TIMESTAMP_SHAPE.test(receivedAt)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not valid' }]);
      where.push(`(received_at, id) < ($${params.push(receivedAt)}::timestamptz, $${params.push(id)}::uuid)`);
    }
    const rows: Array<WebhookEventRow & { sort_key: string }> = await this.dataSource.query(
      `SELECT id, provider, event_id, event_type, status, outcome, failure_reason, attempts, received_at, processed_at, received_at::text AS sort_key
         FROM webhook_events WHERE ${where.join(' AND ')} ORDER BY received_at DESC, id DESC LIMIT ${limit + 1}`,
      params,
    );
    return toPage(rows, limit, 'webhook-events', (row) => [row.sort_key, row.id], (row) => ({
      id: row.id,
      provider: row.provider,
      eventId: row.event_id,
      eventType: row.event_type,
      status: row.status,
      outcome: row.outcome,
      failureReason: row.failure_reason,
      attempts: row.attempts,
      receivedAt: row.received_at.toISOString(),
      processedAt: row.processed_at ? row.processed_at.toISOString() : null,
    }));
  }

  /** Bounded and never throwing: the row is stored, so the vendor gets its 200 and the sweeper queues a lost job. */
  private async dispatch(id: string): Promise<void> {
    await this.jobs.tryDispatch('webhooks.process', { eventId: id }, { jobId: `webhook.${id}` });
  }

  private async finish(id: string, status: 'processed' | 'failed', outcome: string | null, reason: string | null, businessId: string | null): Promise<void> {
    await queryRows(this.dataSource,
      `UPDATE webhook_events SET status = $2, outcome = $3, failure_reason = $4, processed_at = now(),
              business_id = coalesce(business_id, (SELECT b.id FROM businesses b WHERE b.id = $5::uuid))
        WHERE id = $1 AND status = 'received'`,
      [id, status, outcome?.slice(0, 200) ?? null, reason?.slice(0, 1000) ?? null, businessId && UUID.test(businessId) ? businessId : null],
    );
  }
}
