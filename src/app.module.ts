import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import type { Logger } from 'pino';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { BusinessesModule } from './businesses/businesses.module.js';
import { CustomersModule } from './customers/customers.module.js';
import { IdempotencyInterceptor } from './common/http/idempotency.js';
import { LoggingModule } from './common/logging/logging.module.js';
import type { AppConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { InvoicesModule } from './invoices/invoices.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { LinksModule } from './links/links.module.js';
import { PaymentsModule } from './payments/payments.module.js';
import { RemindersModule } from './reminders/reminders.module.js';
import { SecurityModule } from './security/security.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';
import { ComplianceModule } from './compliance/compliance.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';

export interface AppModuleOptions {
  config: AppConfig;
  /** The resolved database URL (DATABASE_URL or the embedded server's). */
  databaseUrl: string;
  logger: Logger;
  queuePrefix?: string;
  /** Extra modules, used by the test harness only. */
  extraModules?: Array<Type | DynamicModule>;
}

/** The same module graph serves every role; the role decides listeners, workers and cron. */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const { config } = options;
    const runsWorkers = config.role !== 'api';
    const auth = AuthModule.forRoot(config, { keyPrefix: options.queuePrefix });
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(options.logger),
        DatabaseModule.forRoot(options.databaseUrl),
        JobsModule.forRoot({ ...config, databaseUrl: options.databaseUrl }, { queuePrefix: options.queuePrefix }),
        // Cron runs only where workers run: an API process never fires a schedule.
        ...(runsWorkers ? [ScheduleModule.forRoot()] : []),
        AuditModule,
        NotificationsModule,
        auth,
        BusinessesModule.forRoot(auth),
        CustomersModule,
        InvoicesModule,
        LinksModule,
        PaymentsModule,
        WebhooksModule,
        RemindersModule,
        ComplianceModule,
        SecurityModule,
        HealthModule,
        ...(options.extraModules ?? []),
      ],
      providers: [{ provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor }],
    };
  }
}
