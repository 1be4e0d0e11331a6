import type { EntityManager } from 'typeorm';
import { formatDocumentNumber, type DocumentKind } from './numbering.js';

const SEQUENCE_KIND: Record<DocumentKind, string> = { invoice: 'invoice', creditNote: 'credit_note', estimate: 'estimate' };
const FORMAT_COLUMN: Record<DocumentKind, string> = {
  invoice: 'invoice_number_format',
  creditNote: 'credit_note_number_format',
  estimate: 'estimate_number_format',
};

/**
 * Takes the next number of a kind for a business, inside the caller's transaction. The UPSERT
 * holds the counter row's lock until that transaction ends: concurrent finalisations queue on
 * it, each gets the next value, and a rollback hands its value back, so numbers are unique and
 * gap-free. The counter never resets (not even with a {YYYY} format), so a changed format can
 * never produce a number that was already used.
 */
export async function nextDocumentNumber(tx: EntityManager, businessId: string, kind: DocumentKind, issueDate: string): Promise<{ sequence: string; number: string }> {
  const [row]: Array<{ last_value: string; format: string }> = await tx.query(
    `WITH counter AS (
       INSERT INTO document_sequences (business_id, kind, last_value) VALUES ($1, $2, 1)
       ON CONFLICT (business_id, kind) DO UPDATE SET last_value = document_sequences.last_value + 1
       RETURNING last_value)
     SELECT counter.last_value, b.${FORMAT_COLUMN[kind]} AS format FROM counter, businesses b WHERE b.id = $1`,
    [businessId, SEQUENCE_KIND[kind]],
  );
  const number = formatDocumentNumber(row.format, { sequence: BigInt(row.last_value), issueDate: new Date(`${issueDate}T00:00:00Z`) });
  return { sequence: row.last_value, number };
}
