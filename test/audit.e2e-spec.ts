import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditService, type AuditInput } from '../src/audit/audit.service.js';
import { GENESIS_HASH } from '../src/audit/audit-chain.js';
import { startTestApp, type TestApp } from './harness/app.js';

interface Row {
  id: string;
  seq: string;
  action: string;
  detail: Record<string, unknown>;
  prev_hash: Buffer;
  hash: Buffer;
}

describe('Audit log: hash chain, append-only table, tamper detection', () => {
  let t: TestApp;
  let audit: AuditService;

  beforeAll(async () => {
    t = await startTestApp();
    // t.close() drops the database WITH (FORCE) right after db.end(), which can still have a client
    // closing: its termination is then emitted on the pool and, unhandled, fails a test.
    t.db.on('error', () => undefined);
    audit = t.app.get(AuditService);
  });
  afterAll(async () => {
    await t?.close();
  });

  const event = (businessId: string | null, action: string, detail: Record<string, unknown> = {}): AuditInput => ({
    businessId,
    actor: { type: 'user', id: 'user-1' },
    action,
    entity: { type: 'invoice', id: 'inv-1' },
    ip: '203.0.113.9',
    userAgent: 'jest',
    detail,
  });

  async function rows(businessId: string): Promise<Row[]> {
    const result = await t.db.query<Row>(
      'SELECT id::text AS id, seq::text AS seq, action, detail, prev_hash, hash FROM audit_events WHERE business_id = $1 ORDER BY audit_events.seq',
      [businessId],
    );
    return result.rows;
  }

  async function recordMany(businessId: string, count: number): Promise<Row[]> {
    for (let i = 1; i <= count; i += 1) await audit.record(event(businessId, `invoice.step-${i}`, { amount: i * 100 }));
    return rows(businessId);
  }

  /** What an attacker with superuser access could do: switch the guard off, edit, switch it back on. */
  async function tamper(sql: string, params: unknown[]): Promise<number> {
    const client = await t.db.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
      const result = await client.query(sql, params);
      await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
      await client.query('COMMIT');
      return result.rowCount ?? 0;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  it('chains events: seq 1..n, each prev_hash is the previous hash, and the chain verifies', async () => {
    const businessId = randomUUID();
    const chain = await recordMany(businessId, 3);

    expect(chain.map((row) => row.seq)).toEqual(['1', '2', '3']);
    expect(chain[0].prev_hash.equals(GENESIS_HASH)).toBe(true);
    for (let i = 1; i < chain.length; i += 1) {
      expect(chain[i].prev_hash.equals(chain[i - 1].hash)).toBe(true);
    }
    expect(new Set(chain.map((row) => row.hash.toString('hex'))).size).toBe(3);
    expect(await audit.verifyChain(businessId)).toEqual({ valid: true, checked: 3 });
  });

  it('is append-only in the database itself: UPDATE, DELETE and TRUNCATE are refused, even for the owner', async () => {
    const businessId = randomUUID();
    const [before] = await recordMany(businessId, 1);

    await expect(t.db.query("UPDATE audit_events SET action = 'forged' WHERE id = $1", [before.id])).rejects.toMatchObject({
      code: '42501',
      message: 'audit_events is append-only: UPDATE is not allowed',
    });
    await expect(t.db.query('DELETE FROM audit_events WHERE id = $1', [before.id])).rejects.toMatchObject({
      code: '42501',
      message: 'audit_events is append-only: DELETE is not allowed',
    });
    await expect(t.db.query('TRUNCATE audit_events')).rejects.toMatchObject({
      code: '42501',
      message: 'audit_events is append-only: TRUNCATE is not allowed',
    });

    const [after] = await rows(businessId);
    expect(after).toEqual(before);
    expect(await audit.verifyChain(businessId)).toEqual({ valid: true, checked: 1 });
  });

  it('serialises 40 concurrent appends to one chain without gaps or duplicates; chains are per business', async () => {
    const first = randomUUID();
    const second = randomUUID();
    await Promise.all([
      ...Array.from({ length: 40 }, (_, i) => audit.record(event(first, 'payment.received', { n: i }))),
      ...Array.from({ length: 5 }, (_, i) => audit.record(event(second, 'invoice.sent', { n: i }))),
    ]);

    const chain = await rows(first);
    expect(chain.map((row) => Number(row.seq))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Every call landed exactly once.
    expect(chain.map((row) => row.detail.n as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await audit.verifyChain(first)).toEqual({ valid: true, checked: 40 });

    const other = await rows(second);
    expect(other.map((row) => row.seq)).toEqual(['1', '2', '3', '4', '5']);
    expect(other[0].prev_hash.equals(GENESIS_HASH)).toBe(true);
    expect(await audit.verifyChain(second)).toEqual({ valid: true, checked: 5 });
  });

  it('detects a changed detail', async () => {
    const businessId = randomUUID();
    const chain = await recordMany(businessId, 4);
    expect(await audit.verifyChain(businessId)).toEqual({ valid: true, checked: 4 });

    expect(await tamper(`UPDATE audit_events SET detail = jsonb_set(detail, '{amount}', '1') WHERE id = $1`, [chain[2].id])).toBe(1);

    expect(await audit.verifyChain(businessId)).toEqual({ valid: false, checked: 3, firstBrokenId: chain[2].id });
    // The guard is back on after the tampering.
    await expect(t.db.query('DELETE FROM audit_events WHERE id = $1', [chain[0].id])).rejects.toThrow('append-only');
  });

  it('detects a changed action', async () => {
    const businessId = randomUUID();
    const chain = await recordMany(businessId, 3);

    expect(await tamper(`UPDATE audit_events SET action = 'invoice.voided' WHERE id = $1`, [chain[1].id])).toBe(1);

    expect(await audit.verifyChain(businessId)).toEqual({ valid: false, checked: 2, firstBrokenId: chain[1].id });
  });

  it('detects a deleted row in the middle of a chain', async () => {
    const businessId = randomUUID();
    const chain = await recordMany(businessId, 5);

    expect(await tamper('DELETE FROM audit_events WHERE id = $1', [chain[2].id])).toBe(1);

    // The row after the hole is the first that no longer fits (its seq and prev_hash are off).
    expect(await audit.verifyChain(businessId)).toEqual({ valid: false, checked: 3, firstBrokenId: chain[3].id });
  });

  it("joins the caller's transaction: a rollback leaves no event, a commit keeps it", async () => {
    const dataSource = t.app.get(DataSource);
    const businessId = randomUUID();

    let seenInside = 0;
    await expect(
      dataSource.transaction(async (manager) => {
        await audit.record(event(businessId, 'invoice.created'), manager);
        const [{ count }] = await manager.query('SELECT count(*)::int AS count FROM audit_events WHERE business_id = $1', [businessId]);
        seenInside = count;
        throw new Error('the change this event describes failed');
      }),
    ).rejects.toThrow('the change this event describes failed');
    expect(seenInside).toBe(1);
    expect(await rows(businessId)).toEqual([]);
    expect(await audit.verifyChain(businessId)).toEqual({ valid: true, checked: 0 });

    await dataSource.transaction(async (manager) => {
      await audit.record(event(businessId, 'invoice.created'), manager);
    });
    expect((await rows(businessId)).map((row) => row.seq)).toEqual(['1']);
  });

  it('never stores a secret in detail', async () => {
    const businessId = randomUUID();
    const password = `canary${randomBytes(8).toString('hex')}`;
    const token = `canary${randomBytes(8).toString('hex')}`;
    await audit.record(
      event(businessId, 'user.password-changed', {
        password,
        nested: { refreshToken: token },
        note: 'paid with card 4242 4242 4242 4242 today',
        cardNumber: '4000056655665556',
        invoiceNumber: 'INV-2026-0042',
      }),
    );

    const [row] = await rows(businessId);
    expect(row.detail).toEqual({
      password: '[REDACTED]',
      nested: { refreshToken: '[REDACTED]' },
      note: 'paid with card [REDACTED] today',
      cardNumber: '[REDACTED]',
      invoiceNumber: 'INV-2026-0042',
    });
    const stored = JSON.stringify((await t.db.query('SELECT * FROM audit_events WHERE business_id = $1', [businessId])).rows);
    for (const secret of [password, token, '4242 4242 4242 4242', '4242424242424242', '4000056655665556']) {
      expect(stored).not.toContain(secret);
    }
    // The hash covers the redacted detail, so the chain still verifies.
    expect(await audit.verifyChain(businessId)).toEqual({ valid: true, checked: 1 });
  });

  it('keeps events of no business in their own system chain', async () => {
    await audit.record({ businessId: null, actor: { type: 'anonymous' }, action: 'auth.login-failed', detail: { reason: 'unknown email' } });
    await audit.record({ businessId: null, actor: { type: 'system' }, action: 'system.key-rotated' });
    const system = await t.db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_events WHERE business_id IS NULL ORDER BY audit_events.seq');
    expect(system.rows.map((row) => row.seq)).toEqual(['1', '2']);
    expect(await audit.verifyChain(null)).toEqual({ valid: true, checked: 2 });
    expect(await audit.chainOwners()).toContain(null);
  });

  it('verifies an empty chain as valid with nothing checked', async () => {
    expect(await audit.verifyChain(randomUUID())).toEqual({ valid: true, checked: 0 });
  });
});
