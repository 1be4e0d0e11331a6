import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { Cron, SchedulerRegistry } from '@nestjs/schedule';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ScheduleRuns } from './schedule-runs.js';
import { SWEEPER } from './sweeper.decorator.js';

type SweepMethod = () => Promise<number>;

/**
 * Runs every @Sweeper once a minute, and lets an operator fire every schedule at once.
 *
 * SIGUSR2 to a worker process runs every cron schedule now (`kill -USR2 <pid>`): after an
 * outage, instead of waiting for the next tick. Safe to send to several workers at the same
 * moment (the e2e suite does): each schedule takes its advisory lock and queues jobs with
 * deterministic ids, and unique constraints make a second run a no-op.
 */
@Injectable()
export class JobsSweeps implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly sweepers = new Map<string, SweepMethod>();
  private readonly onSignal = (): void => void this.fireAll();

  constructor(
    private readonly runs: ScheduleRuns,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance) as object)) {
        const name = this.reflector.get<string | undefined>(SWEEPER, instance[method] as SweepMethod);
        if (!name) continue;
        if (this.sweepers.has(name)) throw new Error(`two @Sweeper("${name}") methods`);
        this.sweepers.set(name, () => (instance[method] as SweepMethod).call(instance));
      }
    }
    if (this.config.role !== 'api' && this.scheduler) process.on('SIGUSR2', this.onSignal);
  }

  onApplicationShutdown(): void {
    process.off('SIGUSR2', this.onSignal);
  }

  // Every minute: a row left unqueued goes out within about two minutes (each sweeper waits a
  // grace period first so that it never races the normal enqueue after commit).
  @Cron('0 * * * * *', { name: 'jobs.sweep' })
  async sweepAll(): Promise<Record<string, number | undefined>> {
    const results: Record<string, number | undefined> = {};
    for (const [name, sweep] of this.sweepers) results[name] = await this.runs.run(`sweep.${name}`, () => sweep());
    return results;
  }

  /** Every cron schedule of this process, now (each run is awaited when its schedule waits for completion). */
  async fireAll(): Promise<void> {
    const jobs = [...(this.scheduler?.getCronJobs().entries() ?? [])];
    this.logger.info({ schedules: jobs.map(([name]) => name) }, 'firing every schedule now');
    await Promise.all(jobs.map(([name, job]) => job.fireOnTick().catch((error: unknown) => this.logger.error({ schedule: name, err: error }, 'schedule failed'))));
    this.logger.info({ schedules: jobs.length }, 'every schedule triggered');
  }
}
