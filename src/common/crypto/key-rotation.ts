import type { DataSource } from 'typeorm';
import { queryRows } from '../../database/sql.js';
import { DecryptionError, FieldEncryption, type DecryptionFailure, type FieldEncryptionKey } from './field-encryption.js';

/** The encryption context of a customer's tax id: binds the ciphertext to its row and column. */
export function customerTaxIdContext(customerId: string): string {
  return `customers.tax_id:${customerId}`;
}

/** The encryption context of a customer's audit key (CustomerPiiKeys, src/audit/customer-pii-keys.ts). */
export function customerPiiKeyContext(keyRowId: string): string {
  return `customer_pii_keys.wrapped_key:${keyRowId}`;
}

/**
 * Every field-encrypted column, with the context it is sealed under. The `users` contexts are
 * exactly those of MfaService (`src/auth/mfa.service.ts`); a new encrypted column is added here.
 * Table and column names are constants, never input, so they are safe to interpolate.
 */
export const ENCRYPTED_FIELDS: ReadonlyArray<{ table: string; column: string; context: (id: string) => string }> = [
  { table: 'customers', column: 'tax_id_encrypted', context: customerTaxIdContext },
  { table: 'users', column: 'mfa_secret', context: (userId) => `users.mfa_secret:${userId}` },
  { table: 'users', column: 'mfa_pending_secret', context: (userId) => `users.mfa_pending_secret:${userId}` },
  { table: 'customer_pii_keys', column: 'wrapped_key', context: customerPiiKeyContext },
];

export interface FieldRotationCount {
  /** `table.column` */
  field: string;
  /** Values found under a key other than the current one (or malformed). */
  examined: number;
  /** Re-encrypted under the current key. */
  rotated: number;
  /** Changed (or removed) by someone else between our read and our write: left as they were. */
  skipped: number;
  /** Sealed under a key that is not configured: cannot be decrypted, left as they were. */
  unknownKey: number;
  /** Not a value `FieldEncryption` wrote, or one that fails authentication: left as they were. */
  invalid: number;
}

export interface RotationProblem {
  field: string;
  id: string;
  reason: DecryptionFailure;
  /** The key id the value names, when it is well formed. */
  keyId?: string;
}

export interface RotationReport {
  currentKeyId: string;
  fields: FieldRotationCount[];
  /** The rows that could not be rotated (ids only, never values), at most MAX_PROBLEMS of them. */
  problems: RotationProblem[];
}

const DEFAULT_BATCH = 200;
const MAX_PROBLEMS = 1000;

/**
 * Re-encrypts every field-encrypted value that is not sealed under the current (first) key of
 * `keys`; every key of `keys` may decrypt. Rows are read in batches in id order (keyset, so a
 * batch never re-reads one already passed) and each is written with a conditional UPDATE that
 * only applies while the column still holds the value that was read, so a concurrent change by
 * the application is never overwritten. Values under an unknown key, malformed values and
 * values failing authentication are counted and reported by row id; they never stop the run.
 * Safe to run again at any time: values already under the current key are not touched.
 */
export async function rotateEncryptedFields(
  dataSource: Pick<DataSource, 'query'>,
  keys: ReadonlyArray<FieldEncryptionKey>,
  options: { batchSize?: number } = {},
): Promise<RotationReport> {
  const encryption = new FieldEncryption(keys);
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  const currentPrefix = `v1.${encryption.currentKeyId}.`;
  const report: RotationReport = { currentKeyId: encryption.currentKeyId, fields: [], problems: [] };

  for (const { table, column, context } of ENCRYPTED_FIELDS) {
    const field = `${table}.${column}`;
    const count: FieldRotationCount = { field, examined: 0, rotated: 0, skipped: 0, unknownKey: 0, invalid: 0 };
    report.fields.push(count);
    // Below every uuid: the first batch starts at the beginning.
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows: Array<{ id: string; value: string }> = await dataSource.query(
        `SELECT id::text AS id, ${column} AS value FROM ${table}
          WHERE ${column} IS NOT NULL AND NOT starts_with(${column}, $1) AND id > $2::uuid
          ORDER BY id LIMIT $3`,
        [currentPrefix, after, batchSize],
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1].id;
      for (const row of rows) {
        if (!encryption.needsRotation(row.value)) continue;
        count.examined += 1;
        let rotated: string;
        try {
          rotated = encryption.encrypt(encryption.decrypt(row.value, context(row.id)), context(row.id));
        } catch (error) {
          if (!(error instanceof DecryptionError)) throw error;
          if (error.reason === 'unknown_key') count.unknownKey += 1;
          else count.invalid += 1;
          if (report.problems.length < MAX_PROBLEMS) report.problems.push({ field, id: row.id, reason: error.reason, keyId: encryption.keyIdOf(row.value) });
          continue;
        }
        const updated = await queryRows(dataSource, `UPDATE ${table} SET ${column} = $3 WHERE id = $1 AND ${column} = $2 RETURNING id`, [row.id, row.value, rotated]);
        if (updated.length === 1) count.rotated += 1;
        else count.skipped += 1;
      }
      if (rows.length < batchSize) break;
    }
  }
  return report;
}
