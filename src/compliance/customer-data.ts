import type { EntityManager } from 'typeorm';
import { shredCustomerPii } from '../audit/customer-pii-keys.js';
import { queryRows } from '../database/sql.js';
import { ERASED_EMAIL, ERASED_NAME, ERASED_TEXT, scrubText } from './erasure.js';
import { columnsOf, tableExists } from './schema-probe.js';

type Runner = Pick<EntityManager, 'query'>;

/** Actions whose audit detail names the outbox row that sent a document to its customer. */
const SENDING_ACTIONS = ['invoice.sent', 'estimate.sent', 'invoice.reminder_sent', 'reminder.sent', 'link.fresh_sent'];
export interface CustomerDocuments {
  invoiceIds: string[];
  estimateIds: string[];
  creditNoteIds: string[];
}

export async function customerDocuments(runner: Runner, businessId: string, customerId: string): Promise<CustomerDocuments> {
  const invoices: Array<{ id: string }> = await runner.query('SELECT id FROM invoices WHERE business_id = $1 AND customer_id = $2', [businessId, customerId]);
  const estimates: Array<{ id: string }> = await runner.query('SELECT id FROM estimates WHERE business_id = $1 AND customer_id = $2', [businessId, customerId]);
  const invoiceIds = invoices.map((row) => row.id);
  const creditNotes: Array<{ id: string }> = await runner.query('SELECT id FROM credit_notes WHERE business_id = $1 AND invoice_id = ANY($2::uuid[])', [businessId, invoiceIds]);
  return { invoiceIds, estimateIds: estimates.map((row) => row.id), creditNoteIds: creditNotes.map((row) => row.id) };
}

/**
 * The outbox rows that went to this customer: those about their documents (`emails.document_id`,
 * and the `emailId` a send event names in the audit trail), and those to their address on file.
 */
export async function customerEmailIds(runner: Runner, businessId: string, customerId: string, email: string | null, documents: CustomerDocuments): Promise<string[]> {
  const ids = new Set<string>();
  const documentIds = [...documents.invoiceIds, ...documents.estimateIds];
  if (documentIds.length > 0) {
    const linked: Array<{ email_id: string }> = await runner.query(
      `SELECT DISTINCT detail->>'emailId' AS email_id FROM audit_events
        WHERE business_id = $1 AND entity_id = ANY($2::text[]) AND action = ANY($3) AND detail ? 'emailId'`,
      [businessId, documentIds, SENDING_ACTIONS],
    );
    for (const row of linked) if (row.email_id && /^[0-9a-f-]{36}$/i.test(row.email_id)) ids.add(row.email_id);
  }
  if (email) {
    const byAddress: Array<{ id: string }> = await runner.query('SELECT id FROM emails WHERE business_id = $1 AND lower(to_address) = lower($2)', [businessId, email]);
    for (const row of byAddress) ids.add(row.id);
  }
  const emailColumns = await columnsOf(runner, 'emails');
  if (emailColumns.has('document_id')) {
    const byDocument: Array<{ id: string }> = await runner.query(
      `SELECT id FROM emails WHERE business_id = $1 AND ((document_type = 'invoice' AND document_id = ANY($2::uuid[]))
          OR (document_type = 'estimate' AND document_id = ANY($3::uuid[])) OR (document_type = 'credit_note' AND document_id = ANY($4::uuid[])))`,
      [businessId, documents.invoiceIds, documents.estimateIds, documents.creditNoteIds],
    );
    for (const row of byDocument) ids.add(row.id);
  }
  if (ids.size === 0) return [];
  // Only rows that really are this business's.
  const own: Array<{ id: string }> = await runner.query('SELECT id FROM emails WHERE business_id = $1 AND id = ANY($2::uuid[])', [businessId, [...ids]]);
  return own.map((row) => row.id);
}

export interface ErasureSummary {
  fields: string[];
  invoices: number;
  estimates: number;
  estimatesScrubbed: number;
  linkOpensScrubbed: number | null;
  /** 1 when the customer's audit key (sealing their IPs and browsers in the audit trail) was destroyed. */
  auditKeysDestroyed: number;
  emailsScrubbed: number;
  emailDeliveryRowsScrubbed: number;
  idempotencyRecordsRemoved: number;
  recurringInvoicesPaused: number;
  tablesTouched: string[];
}

/**
 * Removes or pseudonymises everything identifying about one customer, inside the caller's
 * transaction (the customer row must already be locked). Amounts, numbers and dates of
 * invoices, estimates, credit notes and payments are kept, as the law requires; the documents
 * then show "Erased customer" because they read the customer row. `values` are the erased
 * values, used to scrub email subjects.
 */
export async function eraseCustomerData(tx: EntityManager, businessId: string, customerId: string, email: string | null, values: string[]): Promise<ErasureSummary> {
  const touched = new Set<string>(['customers']);
  await queryRows(tx,
    `UPDATE customers SET name = $3, email = NULL, phone = NULL, billing_address = NULL, notes = NULL, tax_id_encrypted = NULL, updated_at = now()
      WHERE business_id = $1 AND id = $2`,
    [businessId, customerId, ERASED_NAME],
  );
  const documents = await customerDocuments(tx, businessId, customerId);

  // The estimate acceptance record keeps the date, not who clicked from where.
  const estimates: unknown[] = await queryRows(tx,
    `UPDATE estimates SET accepted_ip = NULL, accepted_user_agent = NULL
      WHERE business_id = $1 AND customer_id = $2 AND (accepted_ip IS NOT NULL OR accepted_user_agent IS NOT NULL) RETURNING id`,
    [businessId, customerId],
  );
  if (estimates.length > 0) touched.add('estimates');

  let linkOpens: number | null = null;
  if (await tableExists(tx, 'document_opens')) {
    const opens: unknown[] = await queryRows(tx,
      `UPDATE document_opens SET ip = NULL, user_agent = NULL
        WHERE business_id = $1 AND (ip IS NOT NULL OR user_agent IS NOT NULL)
          AND ((document_type = 'invoice' AND document_id = ANY($2::uuid[])) OR (document_type = 'estimate' AND document_id = ANY($3::uuid[])))
        RETURNING id`,
      [businessId, documents.invoiceIds, documents.estimateIds],
    );
    linkOpens = opens.length;
    touched.add('document_opens');
  }

  // The customer's audit key: every IP and browser sealed under it, in the chain and in the
  // inbox, becomes unreadable for good (the sealed text stays and the chain still verifies).
  // A customer's IP or browser is never stored unsealed (AuditService drops plain ones).
  const auditKeys = await shredCustomerPii(tx, businessId, customerId);
  if (auditKeys > 0) touched.add('customer_pii_keys');

  const emailIds = await customerEmailIds(tx, businessId, customerId, email, documents);
  const addresses = new Set<string>(email ? [email.toLowerCase()] : []);
  if (emailIds.length > 0) {
    const rows: Array<{ id: string; subject: string; to_address: string }> = await tx.query('SELECT id, subject, to_address FROM emails WHERE id = ANY($1::uuid[])', [emailIds]);
    for (const row of rows) {
      addresses.add(row.to_address.toLowerCase());
      await queryRows(tx,
        `UPDATE emails SET to_address = $2, subject = $3, text_body = $4, html_body = $4, last_error = NULL,
                status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END
          WHERE id = $1`,
        [row.id, ERASED_EMAIL, scrubText(row.subject, values, { patterns: false }).slice(0, 998) || ERASED_TEXT, ERASED_TEXT],
      );
    }
    touched.add('emails');
  }

  // Delivery tracking (email-delivery module): the recipient a Postmark event names, and the
  // bounce description that may repeat it; suppressions keep working per row, under a pseudonym.
  let deliveryRows = 0;
  if (await tableExists(tx, 'email_events')) {
    const events: unknown[] = await queryRows(tx,
      `UPDATE email_events SET recipient = CASE WHEN recipient IS NULL THEN NULL ELSE $1 END, detail = detail - 'description'
        WHERE (email_id = ANY($2::uuid[]) OR (business_id = $3 AND lower(recipient) = ANY($4::text[])))
          AND (recipient IS DISTINCT FROM $1 OR detail ? 'description')
        RETURNING id`,
      [ERASED_EMAIL, emailIds, businessId, [...addresses]],
    );
    deliveryRows += events.length;
    if (events.length > 0) touched.add('email_events');
  }
  if (await tableExists(tx, 'email_suppressions')) {
    const suppressions: unknown[] = await queryRows(tx,
      `UPDATE email_suppressions SET address = 'erased-' || substr(md5(id::text), 1, 16) || '@erased.invalid', detail = NULL
        WHERE business_id = $1 AND (address = ANY($2::text[]) OR email_id = ANY($3::uuid[])) AND address NOT LIKE '%@erased.invalid'
        RETURNING id`,
      [businessId, [...addresses], emailIds],
    );
    deliveryRows += suppressions.length;
    if (suppressions.length > 0) touched.add('email_suppressions');
  }

  // Recurring invoices for the customer stop: there is no one to send them to any more.
  const paused: unknown[] = await queryRows(tx,
    `UPDATE recurring_invoices SET status = 'paused', version = version + 1, updated_at = now() WHERE business_id = $1 AND customer_id = $2 AND status = 'active' RETURNING id`,
    [businessId, customerId],
  );
  if (paused.length > 0) touched.add('recurring_invoices');

  // Stored first answers of creating POSTs (Idempotency-Key) hold the customer as created.
  const idempotency: unknown[] = await queryRows(tx, `DELETE FROM idempotency_keys WHERE business_id = $1 AND response->>'id' = $2 RETURNING key`, [businessId, customerId]);
  if (idempotency.length > 0) touched.add('idempotency_keys');

  return {
    fields: ['name', 'email', 'phone', 'billingAddress', 'notes', 'taxId'],
    invoices: documents.invoiceIds.length,
    estimates: documents.estimateIds.length,
    estimatesScrubbed: estimates.length,
    linkOpensScrubbed: linkOpens,
    auditKeysDestroyed: auditKeys,
    emailsScrubbed: emailIds.length,
    emailDeliveryRowsScrubbed: deliveryRows,
    idempotencyRecordsRemoved: idempotency.length,
    recurringInvoicesPaused: paused.length,
    tablesTouched: [...touched].sort(),
  };
}
