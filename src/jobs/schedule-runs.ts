import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { withAdvisoryXactLock } from './advisory-lock.js';

export interface ScheduleRunView {
  name: string;
  lastStartedAt: string | null;
  lastFinishedAt: string | null;
  lastOutcome: 'ok' | 'failed' | null;
  lastError: string | null;
  lastQueued: number | null;
  runs: number;
  failures: number;
}

interface ScheduleRunRow {
  name: string;
  last_started_at: Date | null;
  last_finished_at: Date | null;
  last_outcome: 'ok' | 'failed' | null;
  last_error: string | null;
  last_queued: number | null;
  runs: string;
  failures: string;
}

/**
 * Runs one schedule the way every schedule runs: inside a transaction that holds
 * `pg_try_advisory_xact_lock(<name>)` (another process holding it means "already running
 * elsewhere": this run does nothing), and records the run in `schedule_runs` for
 * GET /v1/jobs/health. The work finds due items and queues jobs with deterministic ids, so even
 * two runs one after the other queue nothing twice.
 */
@Injectable()
export class ScheduleRuns {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The number of jobs queued, or undefined when another process holds the lock or the run failed. */
  async run(name: string, work: (manager: EntityManager) => Promise<number>): Promise<number | undefined> {
    const startedAt = new Date();
    try {
      const queued = await withAdvisoryXactLock(this.dataSource, name, async (manager) => {
        const count = await work(manager);
        await manager.query(
          `INSERT INTO schedule_runs (name, last_started_at, last_finished_at, last_outcome, last_error, last_queued, runs)
           VALUES ($1, $2, clock_timestamp(), 'ok', NULL, $3, 1)
           ON CONFLICT (name) DO UPDATE SET last_started_at = $2, last_finished_at = clock_timestamp(), last_outcome = 'ok', last_error = NULL,
             last_queued = $3, runs = schedule_runs.runs + 1`,
          [name, startedAt, count],
        );
        return count;
      });
      if (queued === undefined) this.logger.debug({ schedule: name }, 'schedule already running in another process');
      else if (queued > 0) this.logger.info({ schedule: name, queued }, 'schedule queued work');
      return queued;
    } catch (error) {
      this.logger.error({ schedule: name, err: error }, 'schedule run failed; the next run retries');
      await this.dataSource
        .query(
          `INSERT INTO schedule_runs (name, last_started_at, last_finished_at, last_outcome, last_error, runs, failures)
           VALUES ($1, $2, clock_timestamp(), 'failed', $3, 1, 1)
           ON CONFLICT (name) DO UPDATE SET last_started_at = $2, last_finished_at = clock_timestamp(), last_outcome = 'failed', last_error = $3,
             runs = schedule_runs.runs + 1, failures = schedule_runs.failures + 1`,
          [name, startedAt, (error as Error).message.slice(0, 300)],
        )
        .catch(() => undefined);
      return undefined;
    }
  }

  async list(): Promise<ScheduleRunView[]> {
    const rows: ScheduleRunRow[] = await this.dataSource.query('SELECT * FROM schedule_runs ORDER BY name');
    return rows.map((row) => ({
      name: row.name,
      lastStartedAt: row.last_started_at?.toISOString() ?? null,
      lastFinishedAt: row.last_finished_at?.toISOString() ?? null,
      lastOutcome: row.last_outcome,
      lastError: row.last_error,
      lastQueued: row.last_queued,
      runs: Number(row.runs),
      failures: Number(row.failures),
    }));
  }
}
