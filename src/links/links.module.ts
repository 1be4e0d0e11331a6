import { Module } from '@nestjs/common';
import { InvoicesModule } from '../invoices/invoices.module.js';

@Module({ imports: [InvoicesModule], controllers: [], providers: [], exports: [] })
export class LinksModule {}
