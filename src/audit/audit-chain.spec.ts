import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ChainVerifier, GENESIS_HASH, canonicalJson, chainHash, type ChainedEvent } from './audit-chain.js';

type Row = ChainedEvent & { id: string; prevHash: Buffer; hash: Buffer };

function event(seq: number, overrides: Partial<ChainedEvent> = {}): ChainedEvent {
  return {
    businessId: '6f1c1d0e-3a5b-4c2d-9e8f-0a1b2c3d4e5f',
    seq: String(seq),
    occurredAt: new Date(Date.UTC(2025, 0, 31, 10, 0, seq)),
    actorType: 'user',
    actorId: `user-${seq}`,
    action: 'invoice.sent',
    entityType: 'invoice',
    entityId: `inv-${seq}`,
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    detail: { amount: 1000 * seq, currency: 'EUR', lines: [{ qty: seq }] },
    ...overrides,
  };
}

/** Builds a chain the way the writer does: each row's prev_hash is the previous row's hash. */
function buildChain(length: number): Row[] {
  const rows: Row[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= length; seq += 1) {
    const e = event(seq);
    const hash = chainHash(prevHash, e);
    rows.push({ ...e, id: randomUUID(), prevHash, hash });
    prevHash = hash;
  }
  return rows;
}

function verify(rows: Row[]) {
  const verifier = new ChainVerifier();
  for (const row of rows) verifier.accept(row);
  return verifier.result();
}

/** A different value of the same type for each field, so a change is always a real change. */
const CHANGED: { [K in keyof ChainedEvent]: ChainedEvent[K] } = {
  businessId: '00000000-0000-4000-8000-000000000001',
  seq: '999',
  occurredAt: new Date(Date.UTC(2024, 5, 1)),
  actorType: 'system',
  actorId: 'someone-else',
  action: 'invoice.voided',
  entityType: 'customer',
  entityId: 'cus-1',
  ip: '198.51.100.1',
  userAgent: 'curl/8.0',
  detail: { amount: 1, currency: 'EUR', lines: [{ qty: 1 }] },
};
const FIELDS = Object.keys(CHANGED) as Array<keyof ChainedEvent>;

describe('canonicalJson', () => {
  it('sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('is the same whatever order the keys were inserted in', () => {
    const one = { action: 'x', detail: { currency: 'EUR', amount: 5, nested: { b: true, a: false } }, seq: '1' };
    const two = { seq: '1', detail: { nested: { a: false, b: true }, amount: 5, currency: 'EUR' }, action: 'x' };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
  });

  it('is valid JSON that reads back as the same value', () => {
    const value = { text: 'quote " and \\ and ünïcode', list: [1, 'two', null, { three: 3 }], flag: false };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('keeps array order (arrays are data, not sets)', () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('omits undefined properties like JSON does, and writes dates as ISO strings', () => {
    const at = new Date(Date.UTC(2025, 0, 31));
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson({ at })).toBe(canonicalJson({ at: at.toISOString() }));
  });

  it('survives a JSONB round trip (PostgreSQL reorders keys)', () => {
    const detail = { zeta: 1, alpha: { y: 'b', x: 'a' } };
    const fromDatabase = JSON.parse(JSON.stringify({ alpha: { x: 'a', y: 'b' }, zeta: 1 })) as Record<string, unknown>;
    expect(canonicalJson(fromDatabase)).toBe(canonicalJson(detail));
  });
});

describe('chainHash', () => {
  const base = event(1);

  it('is a 32-byte SHA-256 digest that is stable for the same input', () => {
    const hash = chainHash(GENESIS_HASH, base);
    expect(hash).toHaveLength(32);
    expect(chainHash(GENESIS_HASH, { ...base, detail: { ...base.detail } }).equals(hash)).toBe(true);
  });

  it('does not depend on the key order of the detail', () => {
    const reordered = { ...base, detail: { lines: [{ qty: 1 }], currency: 'EUR', amount: 1000 } };
    expect(chainHash(GENESIS_HASH, reordered).equals(chainHash(GENESIS_HASH, base))).toBe(true);
  });

  it.each(FIELDS)('changes when %s changes', (field) => {
    const changed = { ...base, [field]: CHANGED[field] };
    expect(changed[field]).not.toEqual(base[field]);
    expect(chainHash(GENESIS_HASH, changed).equals(chainHash(GENESIS_HASH, base))).toBe(false);
  });

  const NULLABLE = ['businessId', 'actorId', 'entityType', 'entityId', 'ip', 'userAgent'] as const;
  it.each(NULLABLE)('changes when %s becomes null', (field) => {
    expect(base[field]).not.toBeNull();
    const changed: ChainedEvent = { ...base, [field]: null };
    expect(chainHash(GENESIS_HASH, changed).equals(chainHash(GENESIS_HASH, base))).toBe(false);
  });

  it('changes when a value deep inside the detail changes', () => {
    const changed = { ...base, detail: { ...base.detail, lines: [{ qty: 2 }] } };
    expect(chainHash(GENESIS_HASH, changed).equals(chainHash(GENESIS_HASH, base))).toBe(false);
  });

  it('changes when the previous hash changes', () => {
    const other = createHash('sha256').update(randomBytes(16)).digest();
    expect(chainHash(other, base).equals(chainHash(GENESIS_HASH, base))).toBe(false);
    const flipped = Buffer.from(GENESIS_HASH);
    flipped[31] ^= 1;
    expect(chainHash(flipped, base).equals(chainHash(GENESIS_HASH, base))).toBe(false);
  });
});

describe('ChainVerifier', () => {
  it('accepts an empty chain', () => {
    expect(new ChainVerifier().result()).toEqual({ valid: true, checked: 0 });
  });

  it.each([1, 2, 25])('accepts a correctly built chain of %i events', (length) => {
    expect(verify(buildChain(length))).toEqual({ valid: true, checked: length });
  });

  it('accepts a chain fed in batches to the same verifier', () => {
    const rows = buildChain(10);
    const verifier = new ChainVerifier();
    for (const batch of [rows.slice(0, 4), rows.slice(4, 9), rows.slice(9)]) {
      for (const row of batch) expect(verifier.accept(row)).toBe(true);
    }
    expect(verifier.result()).toEqual({ valid: true, checked: 10 });
  });

  it.each(FIELDS.filter((field) => field !== 'seq'))('reports the row whose %s was altered', (field) => {
    const rows = buildChain(6);
    rows[3] = { ...rows[3], [field]: CHANGED[field] };
    const result = verify(rows);
    expect(result.valid).toBe(false);
    expect(result.firstBrokenId).toBe(rows[3].id);
  });

  it('reports the row whose seq was altered', () => {
    const rows = buildChain(6);
    rows[3] = { ...rows[3], seq: '4000' };
    expect(verify(rows)).toMatchObject({ valid: false, firstBrokenId: rows[3].id });
  });

  it('reports the row whose stored hash or prev_hash was altered', () => {
    for (const column of ['hash', 'prevHash'] as const) {
      const rows = buildChain(5);
      const tampered = Buffer.from(rows[2][column]);
      tampered[0] ^= 0xff;
      rows[2] = { ...rows[2], [column]: tampered };
      expect(verify(rows)).toMatchObject({ valid: false, firstBrokenId: rows[2].id });
    }
  });

  it('reports the row after a removed one (seq gap)', () => {
    const rows = buildChain(6);
    const [, , , removedSuccessor] = rows;
    rows.splice(2, 1);
    expect(verify(rows)).toMatchObject({ valid: false, firstBrokenId: removedSuccessor.id });
  });

  it('reports a seq gap even when every hash after it was recomputed to fit', () => {
    const rows = buildChain(6);
    rows.splice(2, 1); // seq 3 is gone
    for (let i = 2; i < rows.length; i += 1) {
      rows[i].prevHash = rows[i - 1].hash;
      rows[i].hash = chainHash(rows[i].prevHash, rows[i]);
    }
    expect(verify(rows)).toMatchObject({ valid: false, firstBrokenId: rows[2].id });
  });

  it('reports a chain that does not start at seq 1, even with consistent hashes', () => {
    const e = event(2);
    const row = { ...e, id: randomUUID(), prevHash: GENESIS_HASH, hash: chainHash(GENESIS_HASH, e) };
    expect(verify([row])).toMatchObject({ valid: false, firstBrokenId: row.id });
  });

  it('reports a chain whose first row was removed', () => {
    const rows = buildChain(3);
    expect(verify(rows.slice(1))).toMatchObject({ valid: false, firstBrokenId: rows[1].id });
  });

  it('reports the first row out of place when rows are reordered', () => {
    const rows = buildChain(6);
    const reordered = [rows[0], rows[1], rows[3], rows[2], rows[4], rows[5]];
    expect(verify(reordered)).toMatchObject({ valid: false, firstBrokenId: rows[3].id });
  });

  it('reports the successor of a forged row whose own hash was recomputed', () => {
    const rows = buildChain(6);
    const forged = { ...rows[2], detail: { amount: 1, currency: 'EUR', lines: [] } };
    forged.hash = chainHash(forged.prevHash, forged);
    rows[2] = forged;
    const result = verify(rows);
    expect(result.valid).toBe(false);
    expect(result.firstBrokenId).toBe(rows[3].id);
  });

  it('reports a row spliced in from another chain', () => {
    const rows = buildChain(4);
    const otherBusiness = event(3, { businessId: CHANGED.businessId });
    rows[2] = { ...otherBusiness, id: randomUUID(), prevHash: rows[1].hash, hash: chainHash(randomBytes(32), otherBusiness) };
    expect(verify(rows)).toMatchObject({ valid: false, firstBrokenId: rows[2].id });
  });

  it('stops at the first break: later rows are refused and not counted', () => {
    const rows = buildChain(6);
    rows[1] = { ...rows[1], action: 'invoice.deleted' };
    const verifier = new ChainVerifier();
    const accepted = rows.map((row) => verifier.accept(row));
    expect(accepted).toEqual([true, false, false, false, false, false]);
    expect(verifier.result()).toEqual({ valid: false, checked: 2, firstBrokenId: rows[1].id });
  });
});
