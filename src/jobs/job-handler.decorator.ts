import { SetMetadata } from '@nestjs/common';
import type { JobName } from './job-contract.js';

export const JOB_HANDLER = Symbol('JOB_HANDLER');

/**
 * Marks a provider method as the processor of one job. Boot fails when a declared job has no
 * handler or more than one (see JobsService).
 */
export const JobHandler = (name: JobName): MethodDecorator => SetMetadata(JOB_HANDLER, name);
