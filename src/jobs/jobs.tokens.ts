import type { QueueName } from './job-contract.js';

export const QUEUE_BACKEND = Symbol('QUEUE_BACKEND');

/**
 * Optional timing overrides. Nothing in the application provides this token, so production
 * always runs the policy of job-contract.ts; an e2e suite may provide it (from a @Global test
 * module) to make the retry backoff of a queue short without changing the production values.
 */
export const JOB_TIMING = Symbol('JOB_TIMING');

export interface JobTiming {
  /** The first backoff delay per queue (exponential: delay, 2×delay, 4×delay, …). */
  backoffDelayMs?: Partial<Record<QueueName, number>>;
}
