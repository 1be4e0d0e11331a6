import { createHash, generateKeyPairSync } from 'node:crypto';
import { chainHash, GENESIS_HASH, type ChainedEvent } from './audit-chain.js';
import { AnchoredChainVerifier, buildExport, deriveExportKey, EXPORT_FORMAT, exportStatement, parseStatement, verifyStatementSignature } from './audit-export.js';

type Row = ChainedEvent & { id: string; prevHash: Buffer; hash: Buffer };

function chain(length: number, from: { seq: number; hash: Buffer } = { seq: 0, hash: GENESIS_HASH }): Row[] {
  const rows: Row[] = [];
  let prevHash = from.hash;
  for (let seq = from.seq + 1; seq <= from.seq + length; seq += 1) {
    const event: ChainedEvent = {
      businessId: '6f1c1d0e-3a5b-4c2d-9e8f-0a1b2c3d4e5f', seq: String(seq), occurredAt: new Date(Date.UTC(2026, 10, 1, 9, 0, seq)), actorType: 'user', actorId: 'u-1',
      action: 'invoice.sent', entityType: 'invoice', entityId: `inv-${seq}`, ip: '203.0.113.1', userAgent: 'ua', detail: { n: seq },
    };
    const hash = chainHash(prevHash, event);
    rows.push({ ...event, id: `id-${seq}`, prevHash, hash });
    prevHash = hash;
  }
  return rows;
}

describe('audit export signing', () => {
  const secret = 'a-jwt-secret-that-is-at-least-thirty-two-bytes-long';

  it('derives the same Ed25519 key from the same secret, a different one from another', () => {
    const first = deriveExportKey(secret);
    expect(deriveExportKey(secret).publicKeyPem).toBe(first.publicKeyPem);
    expect(first.keyId).toMatch(/^ed25519-[0-9a-f]{16}$/);
    expect(Buffer.from(first.publicKeyRaw, 'base64')).toHaveLength(32);
    expect(deriveExportKey(`${secret}x`).publicKeyPem).not.toBe(first.publicKeyPem);
    expect(first.publicKeyPem).not.toContain(secret);
  });

  it('signs a statement over the exact bytes of the event lines; any change or another key fails', () => {
    const key = deriveExportKey(secret);
    const lines = ['{"a":1}', '{"b":2}'];
    const built = buildExport(lines, { businessId: 'b-1', anchor: { seq: '0', hash: '00'.repeat(32) }, head: { seq: '2', hash: 'ab'.repeat(32) }, generatedAt: '2026-11-30T00:00:00.000Z' }, key);
    const bodyLines = built.body.trimEnd().split('\n');
    expect(bodyLines.slice(0, 2)).toEqual(lines);
    const signatureLine = JSON.parse(bodyLines[2]);
    expect(signatureLine).toMatchObject({ type: 'signature', format: EXPORT_FORMAT, algorithm: 'Ed25519', keyId: key.keyId, statement: built.statement });
    const fields = parseStatement(built.statement)!;
    expect(fields).toMatchObject({ business: 'b-1', events: '2', 'head-seq': '2', 'anchor-seq': '0', 'key-id': key.keyId });
    expect(fields['events-sha256']).toBe(createHash('sha256').update('{"a":1}\n{"b":2}\n').digest('hex'));
    expect(verifyStatementSignature(built.statement, built.signature, key.publicKey)).toBe(true);
    expect(verifyStatementSignature(built.statement.replace('events 2', 'events 3'), built.signature, key.publicKey)).toBe(false);
    expect(verifyStatementSignature(built.statement, built.signature, generateKeyPairSync('ed25519').publicKey)).toBe(false);
    expect(verifyStatementSignature(built.statement, 'not base64 at all!', key.publicKey)).toBe(false);
  });

  it('writes the statement as one name and value per line, in a fixed order', () => {
    expect(exportStatement({ businessId: 'b', anchor: { seq: '5', hash: 'aa' }, head: { seq: '9', hash: 'bb' }, events: 4, eventsSha256: 'cc', generatedAt: 't', keyId: 'k' })).toBe(
      `${EXPORT_FORMAT}\nbusiness b\nanchor-seq 5\nanchor-hash aa\nhead-seq 9\nhead-hash bb\nevents 4\nevents-sha256 cc\ngenerated-at t\nkey-id k`,
    );
    expect(parseStatement('something else\nbusiness b')).toBeUndefined();
  });
});

describe('AnchoredChainVerifier', () => {
  it('verifies a whole chain from genesis, like ChainVerifier', () => {
    const verifier = new AnchoredChainVerifier();
    for (const row of chain(4)) verifier.accept(row);
    expect(verifier.result()).toEqual({ valid: true, checked: 4 });
  });

  it('verifies the rest of a chain from the anchor a purge left', () => {
    const rows = chain(6);
    const verifier = new AnchoredChainVerifier({ seq: 3n, hash: rows[2].hash });
    for (const row of rows.slice(3)) verifier.accept(row);
    expect(verifier.result()).toEqual({ valid: true, checked: 3 });
  });

  it('refuses a remainder that does not start right after the anchor or with its hash', () => {
    const rows = chain(6);
    const wrongSeq = new AnchoredChainVerifier({ seq: 2n, hash: rows[2].hash });
    wrongSeq.accept(rows[3]);
    expect(wrongSeq.result()).toEqual({ valid: false, checked: 1, firstBrokenId: 'id-4' });
    const wrongHash = new AnchoredChainVerifier({ seq: 3n, hash: rows[1].hash });
    wrongHash.accept(rows[3]);
    expect(wrongHash.result()).toEqual({ valid: false, checked: 1, firstBrokenId: 'id-4' });
  });

  it('finds an altered event after the anchor, and stops at the first broken one', () => {
    const rows = chain(5);
    rows[3] = { ...rows[3], detail: { n: 999 } };
    const verifier = new AnchoredChainVerifier({ seq: 2n, hash: rows[1].hash });
    for (const row of rows.slice(2)) verifier.accept(row);
    expect(verifier.result()).toEqual({ valid: false, checked: 2, firstBrokenId: 'id-4' });
    const rejected = new AnchoredChainVerifier();
    rejected.reject('id-x');
    rejected.reject('id-y');
    expect(rejected.result()).toEqual({ valid: false, checked: 1, firstBrokenId: 'id-x' });
  });
});
