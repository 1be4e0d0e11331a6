import type { TestApp } from './app.js';

/** Every invoice: amount paid equals the sum of its payments minus its succeeded refunds, and its status follows. */
export async function ledgerMismatches(t: TestApp): Promise<unknown[]> {
  const { rows } = await t.db.query(`
    SELECT i.id, i.status, i.total, i.credited_total, i.amount_paid,
           ((SELECT coalesce(sum(p.amount), 0) FROM payments p WHERE p.invoice_id = i.id)
             - (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.invoice_id = i.id AND r.status = 'succeeded'))::bigint::text AS ledger
      FROM invoices i`);
  return rows.filter((row) => {
    if (row.amount_paid !== row.ledger) return true;
    if (!['open', 'partially_paid', 'paid'].includes(row.status)) return false;
    const settled = BigInt(row.amount_paid) + BigInt(row.credited_total);
    const expected = settled >= BigInt(row.total) ? 'paid' : BigInt(row.amount_paid) > 0n ? 'partially_paid' : 'open';
    return expected !== row.status;
  });
}
