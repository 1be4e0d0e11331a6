import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module.js';
import { PaypalCertificates } from './paypal-certificates.js';
import { WebhookInbox } from './webhook-inbox.service.js';
import { WebhookEventsController, WebhooksController } from './webhooks.controller.js';

/** Verified intake from Stripe and PayPal, and the durable event inbox that feeds the payments module. */
@Module({
  imports: [PaymentsModule],
  controllers: [WebhooksController, WebhookEventsController],
  providers: [PaypalCertificates, WebhookInbox],
  exports: [],
})
export class WebhooksModule {}
