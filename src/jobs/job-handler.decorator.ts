import { applyDecorators, SetMetadata } from '@nestjs/common';
import type { JobName } from './job-contract.js';

export const JOB_HANDLER = Symbol('JOB_HANDLER');
export const JOB_HANDLER_OPTIONS = Symbol('JOB_HANDLER_OPTIONS');

export interface JobHandlerOptions {
  /**
   * The name of another method of the same provider, called once when a job of this kind has
   * failed for good: its attempts are spent, or it threw BullMQ's UnrecoverableError. It gets
   * `(payload, error)` and should record the failure where a user can see it. It runs after
   * BullMQ has marked the job failed, so it must be idempotent and must not throw.
   */
  onFinalFailure?: string;
}

/**
 * Marks a provider method as the processor of one job. Boot fails when a declared job has no
 * handler or more than one (see JobsService).
 */
export const JobHandler = (name: JobName, options: JobHandlerOptions = {}): MethodDecorator =>
  applyDecorators(SetMetadata(JOB_HANDLER, name), SetMetadata(JOB_HANDLER_OPTIONS, options));
