import { Global, Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { EmailDeliveryService } from './email-delivery.service.js';
import { EmailOutbox } from './email-outbox.service.js';
import { createTransport } from './email-transport.js';
import { EmailsController, EmailSuppressionsController, NotificationSettingsController } from './emails.controller.js';
import { NotificationSettingsService } from './notification-settings.service.js';
import { EMAIL_TRANSPORT } from './notifications.tokens.js';
import { PostmarkWebhookBody, POSTMARK_WEBHOOK_PATH } from './postmark-webhook-body.js';
import { PostmarkWebhookController } from './postmark-webhook.controller.js';
import { SuppressionsService } from './suppressions.service.js';

@Global()
@Module({
  controllers: [EmailsController, EmailSuppressionsController, NotificationSettingsController, PostmarkWebhookController],
  providers: [
    { provide: EMAIL_TRANSPORT, inject: [APP_CONFIG, LOGGER], useFactory: (config: AppConfig, logger: Logger) => createTransport(config, logger) },
    EmailOutbox,
    SuppressionsService,
    EmailDeliveryService,
    NotificationSettingsService,
    PostmarkWebhookBody,
  ],
  exports: [EmailOutbox, SuppressionsService, EmailDeliveryService, NotificationSettingsService],
})
export class NotificationsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(PostmarkWebhookBody).forRoutes({ path: POSTMARK_WEBHOOK_PATH.slice(1), method: RequestMethod.POST });
  }
}
