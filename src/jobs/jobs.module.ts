import { Global, Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logging/logging.module.js';
import type { AppConfig } from '../config/config.js';
import { JobsHealthService } from './jobs-health.service.js';
import { JobsSweeps } from './jobs-sweeps.js';
import { JobsController } from './jobs.controller.js';
import { JobsService } from './jobs.service.js';
import { ScheduleRuns } from './schedule-runs.js';
import { QUEUE_BACKEND } from './jobs.tokens.js';
import { createQueueBackend } from './queue-backend.js';
import { throttledErrorLog } from './throttled-error-log.js';

@Global()
@Module({})
export class JobsModule {
  static forRoot(config: AppConfig & { databaseUrl: string }, options: { queuePrefix?: string } = {}): DynamicModule {
    return {
      module: JobsModule,
      imports: [DiscoveryModule],
      controllers: [JobsController],
      providers: [
        {
          provide: QUEUE_BACKEND,
          inject: [LOGGER],
          useFactory: (logger: Logger) =>
            createQueueBackend({
              redisUrl: config.redisUrl,
              databaseUrl: config.databaseUrl,
              prefix: options.queuePrefix,
              onError: throttledErrorLog(logger),
            }),
        },
        JobsService,
        ScheduleRuns,
        JobsSweeps,
        JobsHealthService,
      ],
      exports: [JobsService, ScheduleRuns],
    };
  }
}
