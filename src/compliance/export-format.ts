/**
 * Rows as they appear in data exports: camelCase keys, timestamps as ISO strings, bytes as hex,
 * and never a credential or ciphertext (those columns are dropped; tax ids are decrypted by the
 * caller and added under `taxId`).
 */
const NEVER_EXPORTED = new Set(['tax_id_encrypted', 'password_hash', 'mfa_secret', 'mfa_pending_secret', 'mfa_last_used_step', 'token_hash', 'code_hash', 'request_hash', 'html_body']);

export function camelKey(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_match, char: string) => char.toUpperCase());
}

export function exportValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map(exportValue);
  if (value && typeof value === 'object') return exportRow(value as Record<string, unknown>, false);
  return value;
}

/** `dropSecrets`: applies to database rows; nested JSON (addresses, snapshots) is kept as stored. */
export function exportRow(row: Record<string, unknown>, dropSecrets = true): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (dropSecrets && NEVER_EXPORTED.has(key)) continue;
    out[dropSecrets ? camelKey(key) : key] = exportValue(value);
  }
  return out;
}

/** The rows of `rows` whose `key` column is `id` (an invoice's lines, versions, credit notes), exported. */
export function childRows(rows: ReadonlyArray<Record<string, unknown>>, key: string, id: unknown): Array<Record<string, unknown>> {
  return rows.filter((row) => row[key] === id).map((row) => exportRow(row));
}
