import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import type { Role } from '../auth/roles.js';
import { DecryptionError, FieldEncryption } from '../common/crypto/field-encryption.js';
import { customerTaxIdContext } from '../common/crypto/key-rotation.js';
import { AppError } from '../common/errors/app-error.js';
import { cardNumberErrors, throwIfErrors } from '../common/free-text.js';
import { DEFAULT_LIMIT, decodeCursor, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { queryRows } from '../database/sql.js';
import { violates } from '../database/pg-errors.js';
import type { BillingAddress, InvoiceParties } from '../invoices/invoice-view.js';
import { maskEmail, maskPhone } from './customer-masking.js';
import type { BillingAddressDto, CreateCustomerDto, UpdateCustomerDto } from './customers.dto.js';

/**
 * A customer as the API returns it. `taxId` is present (decrypted, or null) for admin and billing
 * only; for a viewer it is left out entirely and `email` and `phone` are masked.
 */
export interface CustomerView {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  billingAddress: BillingAddress | null;
  notes: string | null;
  taxId?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface CustomerRow {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  billing_address: BillingAddress | null;
  notes: string | null;
  tax_id_encrypted: string | null;
  created_at: Date;
  updated_at: Date;
  /** created_at with its full microsecond precision, for the cursor (a Date keeps milliseconds). */
  created_key: string;
}

/** The stored form of every field but the tax id. */
interface StoredFields {
  name: string;
  email: string | null;
  phone: string | null;
  billingAddress: BillingAddress | null;
  notes: string | null;
}

const COLUMNS = `id, name, email, phone, billing_address, notes, tax_id_encrypted, created_at, updated_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key`;
const SORT = 'created_desc';
const CREATED_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const ADDRESS_PARTS = ['line1', 'line2', 'city', 'region', 'postalCode', 'country'] as const;
/** Constraints through which invoices, estimates and recurring templates reference a customer. */
const DOCUMENT_FKEYS = ['invoices_customer_fkey', 'estimates_customer_fkey', 'recurring_invoices_customer_fkey'];
type Field = 'name' | 'email' | 'phone' | 'billingAddress' | 'notes' | 'taxId';

/**
 * The customers of a business. Every query is scoped by the caller's business id, so another
 * business's customer id answers 404. The tax id is encrypted at the field level (AES-256-GCM,
 * bound to the row by its context) and is only ever decrypted for admin and billing members.
 */
@Injectable()
export class CustomersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
    private readonly audit: AuditService,
  ) {}

  async create(principal: Principal, input: CreateCustomerDto, meta: RequestMeta): Promise<CustomerView> {
    throwIfErrors(freeTextErrors(input));
    const fields = stored(input, { name: input.name, email: null, phone: null, billingAddress: null, notes: null });
    // The id is chosen here so the tax id can be encrypted bound to the row it is written to.
    const id = randomUUID();
    const taxId = input.taxId ?? null;
    const row = await this.dataSource.transaction(async (tx) => {
      const [created]: CustomerRow[] = await tx.query(
        `INSERT INTO customers (id, business_id, name, email, phone, billing_address, notes, tax_id_encrypted)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
        [id, principal.businessId, fields.name, fields.email, fields.phone, jsonb(fields.billingAddress), fields.notes, taxId === null ? null : this.encryption.encrypt(taxId, customerTaxIdContext(id))],
      );
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'customer.created', entity: { type: 'customer', id }, ...meta }, tx);
      return created;
    });
    return this.view(row, principal.role);
  }

  /** Newest first, keyset-paginated on (created_at, id); `q` matches name or email. */
  async list(principal: Principal, query: { limit?: number; cursor?: string; q?: string }): Promise<Page<CustomerView>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    let createdKey: string | null = null;
    let idKey: string | null = null;
    if (query.cursor !== undefined) {
      [createdKey, idKey] = decodeCursor(query.cursor, SORT, 2);
      if (!CREATED_KEY.test(createdKey) || Number.isNaN(Date.parse(createdKey)) || !UUID_SHAPE.test(idKey)) {
        throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not a cursor returned by this list with this sort' }]);
      }
    }
    const search = query.q?.trim() ? `%${escapeLike(query.q.trim())}%` : null;
    const rows: CustomerRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM customers
        WHERE business_id = $1
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
          AND ($4::text IS NULL OR lower(name) LIKE lower($4) ESCAPE '\\' OR lower(email) LIKE lower($4) ESCAPE '\\')
        ORDER BY created_at DESC, id DESC
        LIMIT $5`,
      [principal.businessId, createdKey, idKey, search, limit + 1],
    );
    return toPage(rows, limit, SORT, (row) => [row.created_key, row.id], (row) => this.view(row, principal.role));
  }

  async get(principal: Principal, id: string): Promise<CustomerView> {
    const [row]: CustomerRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM customers WHERE business_id = $1 AND id = $2`, [principal.businessId, id]);
    if (!row) throw notFound();
    return this.view(row, principal.role);
  }

  /**
   * Partial update: a field left out keeps its value, `null` clears it, `billingAddress` is
   * replaced as a whole. Only fields whose value really changes are written and named in the
   * audit event; a request that changes nothing writes nothing.
   */
  async update(principal: Principal, id: string, input: UpdateCustomerDto, meta: RequestMeta): Promise<CustomerView> {
    throwIfErrors(freeTextErrors(input));
    const row = await this.dataSource.transaction(async (tx) => {
      const current = await this.lock(tx, principal.businessId, id);
      // Erasure locks the same row: an edit either comes before it or sees it.
      const erased: unknown[] = await tx.query('SELECT 1 FROM customer_erasures WHERE business_id = $1 AND customer_id = $2', [principal.businessId, id]);
      if (erased.length > 0) throw AppError.conflict('customer_erased', 'This customer’s data was erased; it cannot be edited. Create a new customer for new details.');
      const before: StoredFields = { name: current.name, email: current.email, phone: current.phone, billingAddress: current.billing_address, notes: current.notes };
      const after = stored(input, before);
      const changed: Field[] = (['name', 'email', 'phone', 'billingAddress', 'notes'] as const).filter((field) => !sameValue(before[field], after[field]));
      let taxIdEncrypted = current.tax_id_encrypted;
      if (input.taxId !== undefined && this.taxIdChanges(current, input.taxId)) {
        changed.push('taxId');
        taxIdEncrypted = input.taxId === null ? null : this.encryption.encrypt(input.taxId, customerTaxIdContext(id));
      }
      if (changed.length === 0) return current;
      const [updated]: CustomerRow[] = await queryRows(tx,
        `UPDATE customers SET name = $3, email = $4, phone = $5, billing_address = $6, notes = $7, tax_id_encrypted = $8, updated_at = now()
          WHERE business_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [principal.businessId, id, after.name, after.email, after.phone, jsonb(after.billingAddress), after.notes, taxIdEncrypted],
      );
      await this.audit.record(
        { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'customer.updated', entity: { type: 'customer', id }, detail: { changedFields: changed }, ...meta },
        tx,
      );
      return updated;
    });
    return this.view(row, principal.role);
  }

  /** Refused with 409 while any invoice, estimate or recurring template references the customer. */
  async remove(principal: Principal, id: string, meta: RequestMeta): Promise<void> {
    try {
      await this.dataSource.transaction(async (tx) => {
        const deleted: unknown[] = await queryRows(tx, 'DELETE FROM customers WHERE business_id = $1 AND id = $2 RETURNING id', [principal.businessId, id]);
        if (deleted.length === 0) throw notFound();
        await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'customer.deleted', entity: { type: 'customer', id }, ...meta }, tx);
      });
    } catch (error) {
      if (DOCUMENT_FKEYS.some((constraint) => violates(error, constraint))) {
        throw AppError.conflict('customer_has_documents', 'This customer has invoices, estimates or recurring invoices and cannot be deleted.');
      }
      throw error;
    }
  }

  /** The customer as printed on a document, or undefined when it is not the business's. */
  async partyFor(businessId: string, customerId: string): Promise<InvoiceParties['customer'] | undefined> {
    const [row]: Array<{ name: string; email: string | null; phone: string | null; billing_address: InvoiceParties['customer']['billingAddress'] }> = await this.dataSource.query(
      'SELECT name, email, phone, billing_address FROM customers WHERE business_id = $1 AND id = $2',
      [businessId, customerId],
    );
    return row ? { name: row.name, email: row.email, phone: row.phone, billingAddress: row.billing_address } : undefined;
  }

  private async lock(tx: EntityManager, businessId: string, id: string): Promise<CustomerRow> {
    const [row]: CustomerRow[] = await tx.query(`SELECT ${COLUMNS} FROM customers WHERE business_id = $1 AND id = $2 FOR UPDATE`, [businessId, id]);
    if (!row) throw notFound();
    return row;
  }

  private taxIdChanges(current: CustomerRow, next: string | null): boolean {
    if (current.tax_id_encrypted === null) return next !== null;
    if (next === null) return true;
    try {
      return this.encryption.decrypt(current.tax_id_encrypted, customerTaxIdContext(current.id)) !== next;
    } catch (error) {
      // A value we cannot read is replaced by the one given.
      if (error instanceof DecryptionError) return true;
      throw error;
    }
  }

  private view(row: CustomerRow, role: Role): CustomerView {
    const { id, name, billing_address: billingAddress, notes, created_at: createdAt, updated_at: updatedAt } = row;
    if (role === 'viewer') {
      // Viewers never get the tax id, not even masked, so it is not decrypted for them.
      const email = row.email === null ? null : maskEmail(row.email);
      const phone = row.phone === null ? null : maskPhone(row.phone);
      return { id, name, email, phone, billingAddress, notes, createdAt, updatedAt };
    }
    const taxId = row.tax_id_encrypted === null ? null : this.encryption.decrypt(row.tax_id_encrypted, customerTaxIdContext(row.id));
    return { id, name, email: row.email, phone: row.phone, billingAddress, notes, taxId, createdAt, updatedAt };
  }
}

function notFound(): AppError {
  return AppError.notFound('customer_not_found', 'No such customer.');
}

/** Card numbers in the free-text fields given (name, notes, address lines). */
function freeTextErrors(input: CreateCustomerDto | UpdateCustomerDto): ReturnType<typeof cardNumberErrors> {
  const address = input.billingAddress ?? {};
  return cardNumberErrors({
    name: input.name,
    notes: input.notes,
    ...Object.fromEntries(ADDRESS_PARTS.map((part) => [`billingAddress.${part}`, (address as Record<string, unknown>)[part]])),
  });
}

/**
 * `base` with the given fields applied: undefined keeps, null clears. Empty notes are stored as
 * null, and an address keeps only its non-empty parts (none at all is stored as null).
 */
function stored(input: CreateCustomerDto | UpdateCustomerDto, base: StoredFields): StoredFields {
  const pick = <T>(value: T | null | undefined, current: T | null): T | null => (value === undefined ? current : value);
  const notes = pick(input.notes, base.notes);
  return {
    name: input.name ?? base.name,
    email: pick(input.email, base.email),
    phone: pick(input.phone, base.phone),
    billingAddress: input.billingAddress === undefined ? base.billingAddress : address(input.billingAddress),
    notes: notes === '' ? null : notes,
  };
}

function address(input: BillingAddressDto | null): BillingAddress | null {
  if (input === null) return null;
  const out: BillingAddress = {};
  for (const part of ADDRESS_PARTS) {
    const value = input[part];
    if (typeof value === 'string' && value !== '') out[part] = value;
  }
  return Object.keys(out).length > 0 ? out : null;
}

function jsonb(value: BillingAddress | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  return [...keys].every((key) => left[key] === right[key]);
}

/** `q` as a LIKE pattern body: its own %, _ and \ match literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
