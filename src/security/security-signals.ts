import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SecurityEvents } from './security-events.service.js';
import { SecurityMetrics } from './security-metrics.js';
import { KIND_INFO } from './security-rules.js';
import { WindowCounter } from './window-counter.js';

export type WebhookProvider = 'stripe' | 'paypal' | 'postmark';

export const WEBHOOK_FAILURE_THRESHOLD = KIND_INFO.webhook_verification_failures.threshold!;
export const WEBHOOK_FAILURE_WINDOW_MS = KIND_INFO.webhook_verification_failures.windowMs!;

// INCR and set the expiry on the first hit, atomically: the count of this window, shared by every process.
const INCREMENT = `local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return hits`;

/**
 * In-process signals for security monitoring of things that must not be written to the
 * database when they happen (a forged webhook is refused with nothing written). Failures are
 * counted per provider in fixed windows (5 minutes): in memory, and in Redis when REDIS_URL is
 * set so every API process adds to one count. The one hit that brings a window's count to the
 * threshold (10) writes one security event and one alert; the security event's burst keeps a
 * continuing attack to that one event (later windows only add to its occurrences).
 */
@Injectable()
export class SecuritySignals implements OnApplicationShutdown {
  private readonly local = new WindowCounter(WEBHOOK_FAILURE_WINDOW_MS);
  private readonly redis?: Redis;
  private readonly namespace: string;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: SecurityEvents,
    private readonly metrics: SecurityMetrics,
  ) {
    // One namespace per database: processes of one installation share counts, test suites (one database each) do not.
    this.namespace = createHash('sha256').update(databaseIdentity(config.databaseUrl)).digest('hex').slice(0, 12);
    if (config.redisUrl) {
      this.redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
      this.redis.on('error', () => undefined); // an outage falls back to the in-process count
    }
  }

  /** A webhook whose signature, timestamp or credentials did not verify. Never throws, never blocks. */
  webhookVerificationFailed(provider: WebhookProvider): void {
    try {
      const now = Date.now();
      this.metrics.webhookFailures.inc({ provider });
      const localCount = this.local.hit(provider, now);
      if (!this.redis) {
        if (localCount === WEBHOOK_FAILURE_THRESHOLD) this.track(this.raise(provider, localCount));
        return;
      }
      const key = `ledgerline:${this.namespace}:sec:webhook-fail:${provider}:${this.local.windowIndex(now)}`;
      this.track(
        (this.redis.eval(INCREMENT, 1, key, String(WEBHOOK_FAILURE_WINDOW_MS * 2)) as Promise<number>).then(
          (shared) => (Number(shared) === WEBHOOK_FAILURE_THRESHOLD ? this.raise(provider, Number(shared)) : undefined),
          // Redis unavailable: this process's own count still alerts (the burst table dedupes across processes).
          () => (localCount === WEBHOOK_FAILURE_THRESHOLD ? this.raise(provider, localCount) : undefined),
        ),
      );
    } catch (error) {
      this.logger.warn({ err: error }, 'webhook failure signal could not be counted');
    }
  }

  /** Failures counted by this process in the current window (posture report). */
  webhookFailuresInWindow(provider: WebhookProvider): number {
    return this.local.count(provider);
  }

  /** Resolves when every alert started so far has been written (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settled();
    this.redis?.disconnect();
  }

  private async raise(provider: WebhookProvider, failures: number): Promise<void> {
    await this.events.raiseNow({
      businessId: null,
      kind: 'webhook_verification_failures',
      subject: provider,
      summary: `${failures} ${provider} webhooks failed verification within ${Math.round(WEBHOOK_FAILURE_WINDOW_MS / 60_000)} minutes.`,
      detail: { provider, failuresInWindow: failures, windowSeconds: WEBHOOK_FAILURE_WINDOW_MS / 1000 },
      occurrences: failures,
      joinOccurrences: failures,
    });
  }

  private track(work: Promise<unknown>): void {
    const guarded = work.catch((error: unknown) => this.logger.warn({ err: error }, 'webhook failure alert failed'));
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }
}

/** Host, port and database name of a PostgreSQL URL (never its credentials). */
function databaseIdentity(url: string | undefined): string {
  if (!url) return 'embedded';
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port}${parsed.pathname}`;
  } catch {
    return 'unknown';
  }
}
