// The SQL of the stack's invoice hot paths, copied from the source, for the invoice baselines
// and for the scenarios' EXPLAIN checks; not a server. `SOURCE_FRAGMENTS` lists what each
// statement is made of as it appears in the compiled stack (dist/), so the scenarios can warn
// when the app's SQL changed and these copies drifted (bench/lib/invoice-scenarios.js sqlDrift).

// src/invoices/invoices.repository.ts
export const LINES_JSON = `(SELECT coalesce(json_agg(json_build_object(
      'description', l.description, 'quantity', l.quantity::text, 'unit_price', l.unit_price, 'tax_rate_bps', l.tax_rate_bps,
      'discount', l.discount, 'subtotal', l.subtotal, 'discount_total', l.discount_total, 'tax', l.tax, 'total', l.total) ORDER BY l.position), '[]'::json)
    FROM invoice_lines l WHERE l.invoice_id = i.id) AS lines`;
export const LAST_EMAIL_JSON = `(SELECT json_build_object('id', e.id, 'template', e.template, 'status', e.status, 'errorCode', e.error_code,
      'createdAt', e.created_at, 'sentAt', e.sent_at, 'deliveredAt', e.delivered_at, 'failedAt', e.failed_at)
    FROM emails e WHERE e.business_id = i.business_id AND e.document_type = 'invoice' AND e.document_id = i.id
    ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS last_email`;
export const INVOICE_COLUMNS = `i.id, i.business_id, i.customer_id, i.status, i.number, i.currency, i.issue_date, i.due_date, i.notes, i.terms,
  i.discount, i.subtotal, i.discount_total, i.tax_total, i.total, i.amount_paid, i.credited_total, i.version, i.created_at, i.updated_at,
  i.finalized_at, i.sent_at, i.last_sent_at, i.send_count, i.viewed_at, i.voided_at, i.void_reason, i.source_estimate_id, i.recurring_invoice_id`;
// src/audit/audit.service.ts inboxColumns() and inboxValues() (placeholders $3.. with its casts)
export const INBOX_COLUMNS = '(business_id, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail)';
const INBOX_TYPES = ['uuid', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb'];
const INBOX_VALUES = INBOX_TYPES.map((type, index) => `$${index + 3}::${type}`).join(', ');

/** findWithLinesLoggingView: $1 business, $2 invoice id, $3..$11 the inbox event. */
export const READ = `WITH found AS (SELECT ${INVOICE_COLUMNS}, ${LINES_JSON}, ${LAST_EMAIL_JSON} FROM invoices i WHERE i.business_id = $1 AND i.id = $2),
            logged AS (INSERT INTO audit_inbox ${INBOX_COLUMNS} SELECT ${INBOX_VALUES} WHERE EXISTS (SELECT 1 FROM found))
       SELECT * FROM found`;

// src/invoices/invoices.service.ts list(), default sort -createdAt (created_at DESC, id DESC, cast timestamptz)
export const SUMMARY_COLUMNS = `i.id, i.business_id, i.customer_id, i.status, i.number, i.currency, i.issue_date, i.due_date, NULL AS notes, NULL AS terms,
  i.discount, i.subtotal, i.discount_total, i.tax_total, i.total, i.amount_paid, i.credited_total, i.version, i.created_at, i.updated_at,
  i.finalized_at, i.sent_at, i.last_sent_at, i.send_count, i.viewed_at, i.voided_at, i.void_reason, i.source_estimate_id, i.recurring_invoice_id`;
const list = (where, limit) => `SELECT ${SUMMARY_COLUMNS}, i.created_at::text AS sort_key FROM invoices i WHERE ${where}
        ORDER BY i.created_at DESC, i.id DESC LIMIT ${limit + 1}`;
/** The first page: $1 business. */
export const LIST_FIRST = (limit) => list('i.business_id = $1', limit);
/** A page after a cursor: $1 business, $2 created_at text, $3 id. */
export const LIST_AFTER = (limit) => list('i.business_id = $1 AND (i.created_at, i.id) < ($2::timestamptz, $3::uuid)', limit);

// src/invoices/invoices.repository.ts insert() and insertLines('invoice', …)
export const INSERT_INVOICE = `INSERT INTO invoices (business_id, customer_id, currency, issue_date, due_date, notes, terms, discount, subtotal, discount_total, tax_total, total, created_by, source_estimate_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`;
export const INSERT_LINES = `INSERT INTO invoice_lines (invoice_id, business_id, position, description, quantity, unit_price, tax_rate_bps, discount, subtotal, discount_total, tax, total)
       SELECT $1, $2, * FROM unnest($3::smallint[], $4::text[], $5::numeric[], $6::bigint[], $7::integer[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])`;
// src/audit/audit.service.ts append() for one event of a business chain
export const CHAIN_LOCK = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))';
export const CHAIN_HEAD = `SELECT seq, hash FROM audit_events
        WHERE business_id = $1
        ORDER BY seq DESC LIMIT 1`;
export const INSERT_EVENT = `INSERT INTO audit_events
         (business_id, seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;

/** Fragments (whitespace-insensitive) that must appear in the compiled stack for the copies above to be faithful. */
export const SOURCE_FRAGMENTS = {
  'invoices/invoices.repository.js': [
    LINES_JSON, LAST_EMAIL_JSON, INVOICE_COLUMNS,
    'WITH found AS (SELECT ${INVOICE_COLUMNS}, ${LINES_JSON}, ${LAST_EMAIL_JSON} FROM invoices i WHERE i.business_id = $1 AND i.id = $2)',
    'logged AS (INSERT INTO audit_inbox ${inboxColumns()} SELECT ${values} WHERE EXISTS (SELECT 1 FROM found)) SELECT * FROM found',
    INSERT_INVOICE,
    INSERT_LINES.replace('INSERT INTO invoice_lines (invoice_id,', 'INSERT INTO ${kind}_lines (${kind}_id,'),
  ],
  'invoices/invoices.service.js': [
    SUMMARY_COLUMNS,
    "'-createdAt': { column: 'created_at', direction: 'DESC', cast: 'timestamptz' }",
    "const sort = query.sort ?? '-createdAt'",
    "const where = ['i.business_id = $1']",
    "(i.${column}, i.id) ${direction === 'DESC' ? '<' : '>'} (${bind(value)}::${cast}, ${bind(id)}::uuid)",
    "SELECT ${SUMMARY_COLUMNS}, i.${column}::text AS sort_key FROM invoices i WHERE ${where.join(' AND ')} ORDER BY i.${column} ${direction}, i.id ${direction} LIMIT ${limit + 1}",
  ],
  'audit/audit.service.js': [
    `return '${INBOX_COLUMNS}'`,
    `const types = [${INBOX_TYPES.map((t) => `'${t}'`).join(', ')}]`,
    `'${CHAIN_LOCK}'`,
    "SELECT seq, hash FROM audit_events WHERE ${chainFilter(businessId)} ORDER BY seq DESC LIMIT 1",
    "return businessId === null ? '(business_id IS NULL AND $1::uuid IS NULL)' : 'business_id = $1'",
    'INSERT INTO audit_events (business_id, seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail, prev_hash, hash) VALUES ${values.join',
  ],
};
