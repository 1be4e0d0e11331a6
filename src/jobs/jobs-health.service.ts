import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { JobsService } from './jobs.service.js';
import { ScheduleRuns } from './schedule-runs.js';

const DEPTHS_TIMEOUT_MS = 2_000;

export interface JobsHealthView {
  backend: 'redis' | 'postgres';
  /** null when the queue backend did not answer within 2 s. */
  queues: Record<string, { waiting: number; active: number; delayed: number; failed: number }> | null;
  schedules: Array<{ name: string; lastStartedAt: string | null; lastFinishedAt: string | null; lastOutcome: 'ok' | 'failed' | null; lastQueued: number | null; runs: number; failures: number }>;
  /** This business's durable email rows that are not finished yet, and its failures of the last 7 days. */
  outbox: { queued: number; sending: number; oldestQueuedAt: string | null; failedLast7Days: number };
}

/**
 * GET /v1/jobs/health. Queue depths and schedule runs are process-wide facts (numbers and
 * times only: no job payloads or error messages, which could name another business's data);
 * the outbox figures are the caller's business only.
 */
@Injectable()
export class JobsHealthService {
  constructor(
    private readonly jobs: JobsService,
    private readonly runs: ScheduleRuns,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async health(businessId: string): Promise<JobsHealthView> {
    const [queues, schedules, [outbox]] = await Promise.all([
      this.depths(),
      this.runs.list(),
      this.dataSource.query(
        `SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued, count(*) FILTER (WHERE status = 'sending')::int AS sending,
                min(created_at) FILTER (WHERE status = 'queued') AS oldest_queued_at,
                (SELECT count(*)::int FROM emails f WHERE f.business_id = $1 AND f.status = 'failed' AND f.failed_at > now() - interval '7 days') AS failed
           FROM emails WHERE business_id = $1 AND status IN ('queued', 'sending')`,
        [businessId],
      ) as Promise<Array<{ queued: number; sending: number; oldest_queued_at: Date | null; failed: number }>>,
    ]);
    return {
      backend: this.jobs.backendKind,
      queues,
      schedules: schedules.map(({ lastError: _lastError, ...run }) => run),
      outbox: { queued: outbox.queued, sending: outbox.sending, oldestQueuedAt: outbox.oldest_queued_at?.toISOString() ?? null, failedLast7Days: outbox.failed },
    };
  }

  private async depths(): Promise<JobsHealthView['queues']> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const depths = await Promise.race([
        this.jobs.depths(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), DEPTHS_TIMEOUT_MS);
        }),
      ]);
      const out: NonNullable<JobsHealthView['queues']> = {};
      for (const [name, counts] of Object.entries(depths)) {
        out[name] = { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
      }
      return out;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
