import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { Job, JobsOptions } from 'bullmq';
import type { Logger } from 'pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { JOB_HANDLER, JOB_HANDLER_OPTIONS, type JobHandlerOptions } from './job-handler.decorator.js';
import { JOB_QUEUES, QUEUE_NAMES, QUEUE_POLICIES, type JobName, type JobPayloads, type QueueName } from './job-contract.js';
import { JOB_TIMING, QUEUE_BACKEND, type JobTiming } from './jobs.tokens.js';
import type { QueueBackend, QueueHandle, WorkerHandle } from './queue-backend.js';

type Handler = (payload: unknown, job: Job) => Promise<unknown>;
type FinalFailureHandler = (payload: unknown, error: Error) => Promise<unknown>;

/** Enqueueing while the queue backend is away must not hold an HTTP request: rows are durable and a sweeper re-queues them. */
export const DISPATCH_TIMEOUT_MS = 2_000;

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
export class JobsService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly queues = new Map<QueueName, QueueHandle>();
  private readonly workers: WorkerHandle[] = [];
  private readonly handlers = new Map<JobName, Handler>();
  private readonly finalFailureHandlers = new Map<JobName, FinalFailureHandler>();

  constructor(
    @Inject(QUEUE_BACKEND) private readonly backend: QueueBackend,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Optional() @Inject(JOB_TIMING) private readonly timing?: JobTiming,
  ) {
    for (const name of QUEUE_NAMES) this.queues.set(name, backend.queue(name));
  }

  get backendKind(): 'redis' | 'postgres' {
    return this.backend.kind;
  }

  async dispatch<N extends JobName>(name: N, payload: JobPayloads[N], options: DispatchOptions): Promise<void> {
    const queue = this.queues.get(JOB_QUEUES[name])!;
    await queue.add(name, payload, { ...this.jobOptions(JOB_QUEUES[name]), jobId: options.jobId, delay: options.delay });
  }

  /** Many jobs of one kind in one round trip (a scheduler's batch); ids that exist already are skipped. */
  async dispatchMany<N extends JobName>(name: N, items: Array<{ payload: JobPayloads[N]; jobId: string }>): Promise<void> {
    if (items.length === 0) return;
    const queue = this.queues.get(JOB_QUEUES[name])!;
    const options = this.jobOptions(JOB_QUEUES[name]);
    await queue.addBulk(items.map((item) => ({ name, data: item.payload, opts: { ...options, jobId: item.jobId } })));
  }

  /**
   * dispatch() for callers whose work is already durable (an outbox row): waits at most
   * `timeoutMs`, never throws, and answers whether the job is known to be queued. While Redis
   * is away ioredis keeps the command and sends it on reconnect; the sweeper covers the rest.
   */
  async tryDispatch<N extends JobName>(name: N, payload: JobPayloads[N], options: DispatchOptions, timeoutMs = DISPATCH_TIMEOUT_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.dispatch(name, payload, options),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the queue backend did not answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return true;
    } catch (error) {
      this.logger.warn({ job: name, jobId: options.jobId, err: { message: (error as Error).message } }, 'job not queued now; the sweeper will queue it');
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The state of one job ('unknown' when the backend keeps no job with that id). */
  async jobState(name: JobName, jobId: string): Promise<string> {
    return this.queues.get(JOB_QUEUES[name])!.getJobState(jobId);
  }

  /** The wait before retry `attempt` (1 = the first retry) under the queue's exponential backoff. */
  backoffDelayMs(queue: QueueName, attempt: number): number {
    const backoff = this.jobOptions(queue).backoff;
    const delay = typeof backoff === 'object' && backoff ? (backoff.delay ?? 0) : typeof backoff === 'number' ? backoff : 0;
    return delay * 2 ** Math.max(0, attempt - 1);
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
        // Attempts spent, or the handler said retrying cannot help (UnrecoverableError).
        const final = job.attemptsMade >= (job.opts.attempts ?? 1) || error?.name === 'UnrecoverableError';
        this.logger[final ? 'error' : 'warn']({ queue: queueName, job: job.name, jobId: job.id, attempt: job.attemptsMade, final, err: error }, final ? 'job failed for good' : 'job failed, will retry');
        const onFinalFailure = final ? this.finalFailureHandlers.get(job.name as JobName) : undefined;
        if (onFinalFailure) {
          onFinalFailure(job.data, error).catch((hookError: unknown) =>
            this.logger.error({ queue: queueName, job: job.name, jobId: job.id, err: hookError }, 'recording a final job failure failed'),
          );
        }
      });
      this.workers.push(worker);
    }
  }

  // Before any module's onApplicationShutdown: the database (TypeORM closes its DataSource
  // there) must still be open while the running jobs finish.
  async beforeApplicationShutdown(): Promise<void> {
    // Worker.close() waits for running jobs to finish: SIGTERM never cuts a job in half.
    await Promise.all(this.workers.splice(0).map((worker) => worker.close()));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((worker) => worker.close()));
    await this.backend.close();
  }

  private jobOptions(queue: QueueName): JobsOptions {
    const options = QUEUE_POLICIES[queue].defaultJobOptions;
    const delay = this.timing?.backoffDelayMs?.[queue];
    return delay === undefined ? options : { ...options, backoff: { type: 'exponential', delay } };
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
        const options = this.reflector.get<JobHandlerOptions | undefined>(JOB_HANDLER_OPTIONS, (instance as Record<string, (...args: unknown[]) => unknown>)[method]);
        if (options?.onFinalFailure) {
          const hook = instance[options.onFinalFailure];
          if (typeof hook !== 'function') throw new Error(`@JobHandler("${name}") names onFinalFailure "${options.onFinalFailure}", which is not a method of ${instance.constructor.name}`);
          this.finalFailureHandlers.set(name, (payload, error) => (hook as FinalFailureHandler).call(instance, payload, error));
        }
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
