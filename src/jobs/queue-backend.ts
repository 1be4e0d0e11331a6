import { Queue, Worker, createPostgresBackend, withBackend, type JobsOptions, type Processor } from 'bullmq';
import { Redis } from 'ioredis';

export interface QueueHandle {
  add(name: string, data: unknown, options: JobsOptions): Promise<unknown>;
  /** One round trip for many jobs; an id that already exists is skipped, as with add(). */
  addBulk(jobs: Array<{ name: string; data: unknown; opts: JobsOptions }>): Promise<unknown>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  /** 'waiting', 'active', 'delayed', 'completed', 'failed', … or 'unknown' when no such job is kept. */
  getJobState(jobId: string): Promise<string>;
  close(): Promise<void>;
}

export interface WorkerHandle {
  close(): Promise<void>;
  on(event: 'failed', listener: (job: { id?: string; name: string; attemptsMade: number; opts: JobsOptions; data: unknown } | undefined, error: Error) => void): void;
}

export interface QueueBackend {
  readonly kind: 'redis' | 'postgres';
  queue(name: string): QueueHandle;
  worker(name: string, processor: Processor, concurrency: number): WorkerHandle;
  close(): Promise<void>;
}

/**
 * BullMQ on Redis when REDIS_URL is set, otherwise on its PostgreSQL backend in the app's own
 * database (schema `bullmq`). Nothing outside this file can tell which.
 */
export function createQueueBackend(options: {
  redisUrl?: string;
  databaseUrl: string;
  prefix?: string;
  /** Connection-level errors (a lost connection while Redis or PostgreSQL restarts). */
  onError: (source: string, error: Error) => void;
}): QueueBackend {
  // Once close() has begun, connections being torn down (and, in the embedded footprint, the
  // database stopping right after) are expected: they are not reported as errors.
  let closing = false;
  const onError: OnError = (source, error) => {
    if (!closing) options.onError(source, error);
  };
  const backend = options.redisUrl ? redisBackend(options.redisUrl, onError, options.prefix) : postgresBackend(options.databaseUrl, onError);
  const close = backend.close.bind(backend);
  return Object.assign(backend, {
    close: async () => {
      closing = true;
      await close();
    },
  });
}

type OnError = (source: string, error: Error) => void;

function redisBackend(url: string, onError: OnError, prefix = 'ledgerline'): QueueBackend {
  // BullMQ needs maxRetriesPerRequest: null so blocking commands survive reconnects.
  const connection = new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false });
  // Without a listener BullMQ falls back to console.error with the whole client object.
  connection.on('error', (error) => onError('redis', error));
  const closables: Array<{ close(): Promise<void> }> = [];
  return {
    kind: 'redis',
    queue(name) {
      const queue = new Queue(name, { connection, prefix });
      queue.on('error', (error) => onError(`queue:${name}`, error));
      closables.push(queue);
      return queue as unknown as QueueHandle;
    },
    worker(name, processor, concurrency) {
      const worker = new Worker(name, processor, { connection, prefix, concurrency });
      worker.on('error', (error) => onError(`worker:${name}`, error));
      closables.push(worker);
      return worker as unknown as WorkerHandle;
    },
    async close() {
      await Promise.all(closables.splice(0).map((closable) => closable.close()));
      connection.disconnect();
    },
  };
}

function postgresBackend(databaseUrl: string, onError: OnError): QueueBackend {
  const { Queue: PgQueue, Worker: PgWorker } = withBackend(createPostgresBackend);
  // `migrate: true` creates or upgrades BullMQ's own schema on first connect (under its advisory lock).
  const connection = { connectionString: databaseUrl, migrate: true, max: 4, application_name: 'ledgerline-queue' };
  const closables: Array<{ close(): Promise<void> }> = [];
  return {
    kind: 'postgres',
    queue(name) {
      const queue = new PgQueue(name, { connection });
      queue.on('error', (error: Error) => onError(`queue:${name}`, error));
      closables.push(queue);
      return queue as unknown as QueueHandle;
    },
    worker(name, processor, concurrency) {
      const worker = new PgWorker(name, processor, { connection, concurrency });
      worker.on('error', (error: Error) => onError(`worker:${name}`, error));
      closables.push(worker);
      return worker as unknown as WorkerHandle;
    },
    async close() {
      await Promise.all(closables.splice(0).map((closable) => closable.close()));
    },
  };
}
