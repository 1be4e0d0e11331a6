import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { JOB_HANDLER } from './job-handler.decorator.js';
import { JOB_QUEUES, QUEUE_NAMES, QUEUE_POLICIES, type JobName, type JobPayloads, type QueueName } from './job-contract.js';
import { QUEUE_BACKEND } from './jobs.tokens.js';
import type { QueueBackend, QueueHandle, WorkerHandle } from './queue-backend.js';

type Handler = (payload: unknown, job: Job) => Promise<unknown>;

export interface DispatchOptions {
  /** Deterministic id (a row id, or kind + period): BullMQ ignores a second add with the same id. */
  jobId: string;
  delay?: number;
}

/**
 * The typed dispatcher and the processor registry. Handlers are found by the @JobHandler
 * decorator at boot; a job declared in the contract without exactly one handler stops the boot.
 * Workers run only in the worker and all roles.
 */
@Injectable()
export class JobsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly queues = new Map<QueueName, QueueHandle>();
  private readonly workers: WorkerHandle[] = [];
  private readonly handlers = new Map<JobName, Handler>();

  constructor(
    @Inject(QUEUE_BACKEND) private readonly backend: QueueBackend,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {
    for (const name of QUEUE_NAMES) this.queues.set(name, backend.queue(name));
  }

  get backendKind(): 'redis' | 'postgres' {
    return this.backend.kind;
  }

  async dispatch<N extends JobName>(name: N, payload: JobPayloads[N], options: DispatchOptions): Promise<void> {
    const queue = this.queues.get(JOB_QUEUES[name])!;
    await queue.add(name, payload, { ...QUEUE_POLICIES[JOB_QUEUES[name]].defaultJobOptions, jobId: options.jobId, delay: options.delay });
  }

  /** Throws when the queue backend cannot answer; used by the readiness check. */
  async ping(): Promise<void> {
    await this.queues.get(QUEUE_NAMES[0])!.getJobCounts('waiting');
  }

  async depths(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, queue] of this.queues) out[name] = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    return out;
  }

  onApplicationBootstrap(): void {
    this.registerHandlers();
    if (this.config.role === 'api') return;
    for (const queueName of QUEUE_NAMES) {
      const worker = this.backend.worker(queueName, (job) => this.process(job), QUEUE_POLICIES[queueName].concurrency);
      worker.on('failed', (job, error) => {
        if (!job) return;
        const final = job.attemptsMade >= (job.opts.attempts ?? 1);
        this.logger[final ? 'error' : 'warn']({ queue: queueName, job: job.name, jobId: job.id, attempt: job.attemptsMade, final, err: error }, final ? 'job failed for good' : 'job failed, will retry');
      });
      this.workers.push(worker);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // Worker.close() waits for running jobs to finish: SIGTERM never cuts a job in half.
    await Promise.all(this.workers.splice(0).map((worker) => worker.close()));
    await this.backend.close();
  }

  private async process(job: Job): Promise<unknown> {
    const handler = this.handlers.get(job.name as JobName);
    if (!handler) throw new Error(`no handler for job ${job.name}`);
    return handler(job.data, job);
  }

  private registerHandlers(): void {
    const found = new Map<JobName, string[]>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const name = this.reflector.get<JobName | undefined>(JOB_HANDLER, (instance as Record<string, (...args: unknown[]) => unknown>)[method]);
        if (!name) continue;
        found.set(name, [...(found.get(name) ?? []), `${instance.constructor.name}.${method}`]);
        this.handlers.set(name, (payload, job) => (instance[method] as Handler).call(instance, payload, job));
      }
    }
    const problems: string[] = [];
    for (const name of Object.keys(JOB_QUEUES) as JobName[]) {
      const places = found.get(name) ?? [];
      if (places.length === 0) problems.push(`job "${name}" has no @JobHandler`);
      if (places.length > 1) problems.push(`job "${name}" has ${places.length} handlers: ${places.join(', ')}`);
    }
    for (const name of found.keys()) {
      if (!(name in JOB_QUEUES)) problems.push(`@JobHandler("${name}") names a job that the contract does not declare`);
    }
    if (problems.length) throw new Error(`Job contract check failed:\n  - ${problems.join('\n  - ')}`);
  }
}
