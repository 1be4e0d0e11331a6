import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { JobsService } from '../jobs/jobs.service.js';
import { Counter, Gauge, Histogram, renderExposition, statusClass } from './metrics.js';

const SCRAPE_QUERY_TIMEOUT_MS = 2000;
const EMAIL_STATES = ['queued', 'sending', 'sent', 'captured', 'failed'];

/**
 * The process's Prometheus metrics. HTTP latency is observed by a Fastify onResponse hook
 * (every request, including 401/404, labelled with the route pattern, never the raw URL, so ids
 * and tokens never become labels); queue depth, emails by state, payments applied, security
 * events and the audit inbox are read at scrape time.
 */
@Injectable()
export class SecurityMetrics implements OnModuleInit {
  readonly httpDuration = new Histogram('ledgerline_http_request_duration_seconds', 'HTTP request latency by method, route pattern and status class.');
  readonly webhookFailures = new Counter('ledgerline_webhook_verification_failures_total', 'Webhooks refused because their signature, timestamp or credentials did not verify (this process).');
  readonly securityAlerts = new Counter('ledgerline_security_alerts_total', 'Security events that raised an alert (this process).');
  private readonly queueJobs = new Gauge('ledgerline_queue_jobs', 'Jobs per queue and state (failed = failed for good and kept for inspection).');
  private readonly emails = new Gauge('ledgerline_emails', 'Rows of the email outbox by state.');
  private readonly paymentsApplied = new Gauge('ledgerline_payments_applied', 'Payments applied to invoices (rows in payments).');
  private readonly securityEvents = new Gauge('ledgerline_security_events', 'Security events recorded in the last 24 hours by kind.');
  private readonly auditInbox = new Gauge('ledgerline_audit_inbox_pending', 'Audit events waiting to be folded into the hash chain.');
  private readonly scrapeErrors = new Counter('ledgerline_metrics_scrape_errors_total', 'Parts of a scrape that could not be read (database or queue unavailable).');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobsService,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    // The worker role has no HTTP adapter: nothing to observe.
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter) return;
    const fastify = adapter.getInstance() as unknown as FastifyInstance;
    fastify.addHook('onResponse', (request, reply, done) => {
      try {
        const route = request.routeOptions?.url ?? 'unmatched';
        this.httpDuration.observe({ method: request.method, route, status: statusClass(reply.statusCode) }, reply.elapsedTime / 1000);
      } catch {
        // Metrics never break a request.
      }
      done();
    });
  }

  async render(): Promise<string> {
    await Promise.all([this.readQueues(), this.readDatabase()]);
    return renderExposition([
      this.httpDuration,
      this.queueJobs,
      this.webhookFailures,
      this.emails,
      this.paymentsApplied,
      this.securityEvents,
      this.securityAlerts,
      this.auditInbox,
      this.scrapeErrors,
    ]);
  }

  private async readQueues(): Promise<void> {
    try {
      const depths = await withTimeout(this.jobs.depths());
      this.queueJobs.replace(Object.entries(depths).flatMap(([queue, counts]) => Object.entries(counts).map(([state, value]) => ({ labels: { queue, state }, value: Number(value) }))));
    } catch (error) {
      this.scrapeErrors.inc({ part: 'queues' });
      this.logger.debug({ err: error }, 'metrics: queue depths unavailable');
    }
  }

  private async readDatabase(): Promise<void> {
    try {
      const [emails, tables, security, inbox] = await withTimeout(Promise.all([
        this.dataSource.query('SELECT status, count(*)::int AS n FROM emails GROUP BY status') as Promise<Array<{ status: string; n: number }>>,
        this.dataSource.query(`SELECT to_regclass('payments') IS NOT NULL AS payments`) as Promise<Array<{ payments: boolean }>>,
        this.dataSource.query(`SELECT kind, severity, count(*)::int AS n FROM security_events WHERE last_seen_at > now() - interval '24 hours' GROUP BY kind, severity`) as Promise<Array<{ kind: string; severity: string; n: number }>>,
        this.dataSource.query('SELECT count(*)::int AS n FROM audit_inbox') as Promise<Array<{ n: number }>>,
      ]));
      const byState = new Map(emails.map((row) => [row.status, row.n]));
      this.emails.replace([...new Set([...EMAIL_STATES, ...byState.keys()])].map((status) => ({ labels: { status }, value: byState.get(status) ?? 0 })));
      this.securityEvents.replace(security.map((row) => ({ labels: { kind: row.kind, severity: row.severity }, value: row.n })));
      this.auditInbox.set({}, inbox[0]?.n ?? 0);
      if (tables[0]?.payments) {
        const [payments]: Array<{ n: number }> = await withTimeout(this.dataSource.query('SELECT count(*)::int AS n FROM payments'));
        this.paymentsApplied.set({}, payments?.n ?? 0);
      }
    } catch (error) {
      this.scrapeErrors.inc({ part: 'database' });
      this.logger.debug({ err: error }, 'metrics: database figures unavailable');
    }
  }
}

async function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), SCRAPE_QUERY_TIMEOUT_MS); })]);
  } finally {
    clearTimeout(timer);
  }
}
