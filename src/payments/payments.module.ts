import { Module } from '@nestjs/common';
import { InvoicesModule } from '../invoices/invoices.module.js';
import { LinksModule } from '../links/links.module.js';
import { CheckoutService } from './checkout.service.js';
import { PayActionsController, PayActionsSameOriginGuard, PayActionsThrottlerGuard } from './pay-actions.controller.js';
import { PaymentApplication } from './payment-application.service.js';
import { PaymentsController, ReconciliationController, RefundsController } from './payments.controller.js';
import { PaymentsService } from './payments.service.js';
import { PaypalGateway } from './paypal.gateway.js';
import { ProviderEvents } from './provider-events.service.js';
import { ReconciliationService } from './reconciliation.service.js';
import { RefundsService } from './refunds.service.js';
import { StripeGateway } from './stripe.gateway.js';

/**
 * Stripe and PayPal, applying payments under the invoice row lock, refunds (maker–checker),
 * disputes, reconciliation, and the pay page's payment buttons. The webhooks module hands
 * verified events to ProviderEvents.
 */
@Module({
  imports: [InvoicesModule, LinksModule],
  controllers: [PaymentsController, RefundsController, ReconciliationController, PayActionsController],
  providers: [
    PaymentApplication, PaymentsService, RefundsService, ReconciliationService, ProviderEvents, StripeGateway, PaypalGateway, CheckoutService,
    PayActionsThrottlerGuard, PayActionsSameOriginGuard,
  ],
  exports: [ProviderEvents, StripeGateway, PaypalGateway],
})
export class PaymentsModule {}
