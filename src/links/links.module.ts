import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module.js';
import { InvoicesModule } from '../invoices/invoices.module.js';
import { LinksController } from './links.controller.js';
import { LinksService } from './links.service.js';
import { PublicPagesController } from './public-pages.controller.js';
import { PublicPagesService } from './public-pages.service.js';
import { PublicPagesThrottlerGuard } from './public-pages.throttler.js';
import { SameOriginGuard } from './same-origin.guard.js';

/**
 * Signed pay and estimate links and the public pages they open. ThrottlerModule (counter
 * storage) is global, from AuthModule; LinksService is exported so the invoice and estimate
 * emails can build the same links (or call `documentLink` from link-signing.ts directly).
 */
@Module({
  imports: [InvoicesModule, CustomersModule],
  controllers: [LinksController, PublicPagesController],
  providers: [LinksService, PublicPagesService, PublicPagesThrottlerGuard, SameOriginGuard],
  exports: [LinksService],
})
export class LinksModule {}
