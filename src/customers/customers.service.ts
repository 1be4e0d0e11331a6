import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { InvoiceParties } from '../invoices/invoice-view.js';

@Injectable()
export class CustomersService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The customer as printed on a document, or undefined when it is not the business's. */
  async partyFor(businessId: string, customerId: string): Promise<InvoiceParties['customer'] | undefined> {
    const [row]: Array<{ name: string; email: string | null; phone: string | null; billing_address: InvoiceParties['customer']['billingAddress'] }> = await this.dataSource.query(
      'SELECT name, email, phone, billing_address FROM customers WHERE business_id = $1 AND id = $2',
      [businessId, customerId],
    );
    return row ? { name: row.name, email: row.email, phone: row.phone, billingAddress: row.billing_address } : undefined;
  }
}
