import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { FieldEncryption } from '../common/crypto/field-encryption.js';
import { customerPiiKeyContext } from '../common/crypto/key-rotation.js';
import { queryRows } from '../database/sql.js';
import { MAX_USER_AGENT } from './audit-event.entity.js';
import type { AuditInput } from './audit.service.js';
import { isSealed, newPiiKey, openValue, PII_KEY_BYTES, sealValue } from './personal-data-seal.js';

type Runner = Pick<EntityManager, 'query'>;

/**
 * Destroys a customer's audit key, inside the erasure's transaction: from then on the IPs and
 * browsers sealed in their audit events cannot be read by anyone, while the chain still verifies.
 */
export async function shredCustomerPii(tx: Runner, businessId: string, customerId: string): Promise<number> {
  const rows: unknown[] = await queryRows(tx, 'DELETE FROM customer_pii_keys WHERE business_id = $1 AND customer_id = $2 RETURNING id', [businessId, customerId]);
  return rows.length;
}

export interface RevealedPersonalData {
  ip: string | null;
  userAgent: string | null;
  /** The event held the customer's sealed IP or browser, and their key was destroyed by an erasure. */
  personalDataErased: boolean;
}

interface SealableRow {
  actor_type: string;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
}

/**
 * One random AES-256 key per customer, for what the customer leaves in the audit trail (see
 * personal-data-seal.ts). Keys are stored wrapped with ENCRYPTION_KEYS (field encryption, so a
 * database dump alone does not open them), made on first use, never cached, and destroyed on
 * erasure. An erased customer gets no new key: their later visits are recorded without IP and
 * browser.
 */
@Injectable()
export class CustomerPiiKeys {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
  ) {}

  /**
   * The event as it may be stored: for a customer actor, IP and browser sealed under the
   * customer's key (or dropped when the customer is erased or unnamed). Other actors unchanged.
   */
  async seal(input: AuditInput, runner: Runner): Promise<AuditInput> {
    if (input.actor.type !== 'customer' || (!input.ip && !input.userAgent)) return input;
    const customerId = input.actor.id;
    const businessId = input.businessId?.toLowerCase();
    // A customer event that names no customer could never be erased: keep nothing personal in it.
    if (!customerId || !businessId) return { ...input, ip: null, userAgent: null };
    const key = await this.keyFor(runner, businessId, customerId);
    if (!key) return { ...input, ip: null, userAgent: null };
    const owner = { businessId, customerId };
    return {
      ...input,
      ip: input.ip ? sealValue(key, owner, 'ip', input.ip) : null,
      userAgent: input.userAgent ? sealValue(key, owner, 'user_agent', input.userAgent.slice(0, MAX_USER_AGENT)) : null,
    };
  }

  /** The readable IP and browser of stored events of one business, in the order given (one query for all keys). */
  async reveal(businessId: string, rows: ReadonlyArray<SealableRow>): Promise<RevealedPersonalData[]> {
    const owners = new Set<string>();
    for (const row of rows) if (row.actor_type === 'customer' && row.actor_id && (isSealed(row.ip) || isSealed(row.user_agent))) owners.add(row.actor_id);
    const keys = new Map<string, Buffer>();
    if (owners.size > 0) {
      const stored: Array<{ id: string; customer_id: string; wrapped_key: string }> = await this.dataSource.query(
        'SELECT id, customer_id::text AS customer_id, wrapped_key FROM customer_pii_keys WHERE business_id = $1 AND customer_id::text = ANY($2::text[])',
        [businessId, [...owners]],
      );
      for (const row of stored) {
        const key = this.unwrap(row);
        if (key) keys.set(row.customer_id, key);
      }
    }
    return rows.map((row) => {
      if (row.actor_type !== 'customer' || !row.actor_id || !(isSealed(row.ip) || isSealed(row.user_agent))) {
        return { ip: row.ip, userAgent: row.user_agent, personalDataErased: false };
      }
      const key = keys.get(row.actor_id);
      if (!key) return { ip: null, userAgent: null, personalDataErased: true };
      const owner = { businessId, customerId: row.actor_id };
      return {
        ip: row.ip && isSealed(row.ip) ? (openValue(key, owner, 'ip', row.ip) ?? null) : row.ip,
        userAgent: row.user_agent && isSealed(row.user_agent) ? (openValue(key, owner, 'user_agent', row.user_agent) ?? null) : row.user_agent,
        personalDataErased: false,
      };
    });
  }

  /** The customer's key, made on first use; null once the customer is erased (or for an unknown customer). */
  private async keyFor(runner: Runner, businessId: string, customerId: string): Promise<Buffer | null> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const [found]: Array<{ id: string | null; wrapped_key: string | null; erased: boolean; known: boolean }> = await runner.query(
        `SELECT k.id, k.wrapped_key,
                EXISTS (SELECT 1 FROM customer_erasures e WHERE e.business_id = $1 AND e.customer_id = $2) AS erased,
                EXISTS (SELECT 1 FROM customers c WHERE c.business_id = $1 AND c.id = $2) AS known
           FROM (SELECT 1) AS one LEFT JOIN customer_pii_keys k ON k.business_id = $1 AND k.customer_id = $2`,
        [businessId, customerId],
      );
      if (found.erased || !found.known) return null;
      if (found.id && found.wrapped_key) return this.unwrap({ id: found.id, wrapped_key: found.wrapped_key });
      const id = randomUUID();
      const key = newPiiKey();
      const inserted: unknown[] = await runner.query(
        `INSERT INTO customer_pii_keys (id, business_id, customer_id, wrapped_key)
         SELECT $1, $2, $3, $4
          WHERE NOT EXISTS (SELECT 1 FROM customer_erasures e WHERE e.business_id = $2 AND e.customer_id = $3)
         ON CONFLICT (business_id, customer_id) DO NOTHING
         RETURNING id`,
        [id, businessId, customerId, this.encryption.encrypt(key.toString('base64url'), customerPiiKeyContext(id))],
      );
      if (inserted.length === 1) {
        // An erasure that committed while this insert waited for the customer row (the erasure
        // holds it FOR UPDATE) was not visible to the statement above: look again, and undo.
        const [late]: Array<{ erased: boolean }> = await runner.query(
          'SELECT EXISTS (SELECT 1 FROM customer_erasures e WHERE e.business_id = $1 AND e.customer_id = $2) AS erased',
          [businessId, customerId],
        );
        if (!late.erased) return key;
        await runner.query('DELETE FROM customer_pii_keys WHERE id = $1', [id]);
        return null;
      }
      // Another request made the key first (or the customer was erased meanwhile): read again.
    }
    return null;
  }

  private unwrap(row: { id: string; wrapped_key: string }): Buffer | null {
    const encoded = this.encryption.decryptOrNull(row.wrapped_key, customerPiiKeyContext(row.id));
    const key = encoded === null ? null : Buffer.from(encoded, 'base64url');
    return key?.length === PII_KEY_BYTES ? key : null;
  }
}
