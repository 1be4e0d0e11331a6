import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AuditTrailService } from '../src/audit/audit-export.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { enrollMfa, fromFreshIps, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';

const run = promisify(execFile);
type Response = Awaited<ReturnType<TestApp['inject']>>;
interface AuditEventJson {
  id: string;
  seq: string;
  action: string;
  actor: { type: string; id: string | null };
  entity: { type: string; id: string } | null;
  [key: string]: unknown;
}

/**
 * The audit trail over HTTP: the filtered, paginated list (admin; billing sees only its own
 * actions; viewers are refused), verification that finds a row altered behind the database's
 * back, and the signed export checked offline with scripts/verify-audit-export.mjs.
 */
describe('audit trail API', () => {
  let app: TestApp;
  let t: TestApp;
  let admin: TestAccount;
  let billing: TestAccount;
  let viewer: TestAccount;
  let other: TestAccount;
  let workDir: string;

  beforeAll(async () => {
    app = await startTestApp();
    app.db.on('error', () => undefined);
    t = fromFreshIps(app);
    admin = await readyAdmin(t, { businessName: 'Audit Plumbing' });
    other = await readyAdmin(t, { businessName: 'Other Roofing' });
    billing = await member(admin, 'billing');
    viewer = await member(admin, 'viewer');
    workDir = mkdtempSync(join(tmpdir(), 'll-audit-export-'));
  });
  afterAll(async () => {
    rmSync(workDir, { recursive: true, force: true });
    await app?.close();
  });

  async function member(by: TestAccount, role: 'billing' | 'viewer'): Promise<TestAccount> {
    const invitee = { email: uniqueEmail(role), password: strongPassword() };
    const joined = await inviteAndAccept(t, by, invitee, role);
    const session = await mobileLogin(t, invitee);
    const account: TestAccount = { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth };
    return role === 'viewer' ? account : enrollMfa(t, account);
  }

  const get = (account: TestAccount, url: string): Promise<Response> => t.inject({ method: 'GET', url, headers: account.auth });
  const customer = async (account: TestAccount, name: string): Promise<string> => {
    const response = await t.inject({ method: 'POST', url: '/v1/customers', headers: account.auth, payload: { name } });
    expect(response.statusCode).toBe(201);
    return response.json().id;
  };
  const expectProblem = (response: Response, status: number, code?: string): void => {
    expect({ status: response.statusCode, body: response.json() }).toEqual({ status, body: expect.objectContaining(code ? { code } : {}) });
    expect(response.headers['content-type']).toContain('application/problem+json');
  };

  /** Every page of a list, following nextCursor. */
  async function walk(account: TestAccount, query: string): Promise<Array<AuditEventJson>> {
    const out: Array<AuditEventJson> = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page += 1) {
      const response = await get(account, `/v1/audit-events?${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      out.push(...body.data);
      cursor = body.nextCursor;
      if (!cursor) return out;
    }
    throw new Error('too many pages');
  }

  describe('list', () => {
    let first: string;
    let second: string;

    beforeAll(async () => {
      first = await customer(admin, 'Ada First');
      second = await customer(admin, 'Bea Second');
      await t.inject({ method: 'PATCH', url: `/v1/customers/${first}`, headers: admin.auth, payload: { phone: '+31 20 555 0101' } });
      await customer(billing, 'Cy Billing');
    });

    it('lists the business’s events newest first with cursor pagination, covering every event exactly once', async () => {
      const all = await walk(admin, 'limit=2');
      const { rows } = await app.db.query<{ id: string }>('SELECT id::text AS id FROM audit_events WHERE business_id = $1 ORDER BY seq DESC', [admin.businessId]);
      expect(all.map((event) => event.id)).toEqual(rows.map((row) => row.id));
      const seqs = all.map((event) => Number(event.seq));
      expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
      expect(all[0]).toEqual({
        id: expect.any(String), seq: expect.any(String), occurredAt: expect.any(String), actor: { type: 'user', id: expect.any(String) },
        action: expect.any(String), entity: expect.anything(), ip: expect.any(String), userAgent: expect.any(String), personalDataErased: false, detail: expect.any(Object), hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    });

    it('filters by action (exact and family), entity, actor and time', async () => {
      const created = await walk(admin, 'action=customer.created');
      expect(created.map((event) => event.entity?.id).sort()).toEqual(expect.arrayContaining([first, second]));
      expect(created.every((event) => event.action === 'customer.created')).toBe(true);

      const family = await walk(admin, 'action=customer.*');
      expect(new Set(family.map((event) => event.action))).toEqual(new Set(['customer.created', 'customer.updated']));

      const aboutFirst = await walk(admin, `entityType=customer&entityId=${first}`);
      expect(aboutFirst.map((event) => event.action)).toEqual(['customer.updated', 'customer.created']);

      const byBilling = await walk(admin, `actorId=${billing.userId}`);
      expect(byBilling.length).toBeGreaterThan(0);
      expect(byBilling.every((event) => event.actor.id === billing.userId)).toBe(true);

      const future = new Date(Date.now() + 3_600_000).toISOString();
      expect(await walk(admin, `from=${encodeURIComponent(future)}`)).toEqual([]);
      const past = new Date(Date.now() - 3_600_000).toISOString();
      expect(await walk(admin, `to=${encodeURIComponent(past)}`)).toEqual([]);
      expect((await walk(admin, `from=${encodeURIComponent(past)}&to=${encodeURIComponent(future)}`)).length).toBe((await walk(admin, 'limit=200')).length);
    });

    it('shows billing only its own actions, even when asking for someone else’s; refuses viewers', async () => {
      const own = await walk(billing, 'limit=200');
      expect(own.length).toBeGreaterThan(0);
      expect(own.every((event) => event.actor.type === 'user' && event.actor.id === billing.userId)).toBe(true);
      expect(await walk(billing, `actorId=${admin.userId}`)).toEqual([]);
      expectProblem(await get(viewer, '/v1/audit-events'), 403, 'role_not_allowed');
      expectProblem(await get(viewer, '/v1/audit-events/verify'), 403, 'role_not_allowed');
      expectProblem(await get(billing, '/v1/audit-events/verify'), 403, 'role_not_allowed');
      expectProblem(await get(billing, '/v1/audit-events/export'), 403, 'role_not_allowed');
    });

    it('never shows another business’s events', async () => {
      const mine = await walk(admin, 'limit=200');
      const { rows } = await app.db.query<{ id: string }>('SELECT id::text AS id FROM audit_events WHERE business_id = $1', [other.businessId]);
      const foreign = new Set(rows.map((row) => row.id));
      expect(mine.some((event) => foreign.has(event.id))).toBe(false);
      expect(await walk(admin, `actorId=${other.userId}`)).toEqual([]);
    });

    it.each([
      ['limit=0'],
      ['limit=201'],
      ['cursor=not-a-cursor'],
      [`cursor=${Buffer.from(JSON.stringify(['other_sort', '5'])).toString('base64url')}`],
      [`cursor=${Buffer.from(JSON.stringify(['seq_desc', 'x'])).toString('base64url')}`],
      ['action=DROP%20TABLE'],
      ['actorType=robot'],
      ['from=yesterday'],
      [`from=${encodeURIComponent('2026-12-01T00:00:00Z')}&to=${encodeURIComponent('2026-01-01T00:00:00Z')}`],
      ['unknown=1'],
    ])('answers 400 (never 500) to bad query %s', async (query) => {
      expectProblem(await get(admin, `/v1/audit-events?${query}`), 400);
    });
  });

  describe('verify', () => {
    it('recomputes the chain and finds a row altered directly in the database', async () => {
      const fresh = await readyAdmin(t, { businessName: 'Tamper Target' });
      for (const name of ['One', 'Two', 'Three']) await customer(fresh, `Customer ${name}`);
      const before = await get(fresh, '/v1/audit-events/verify');
      expect(before.statusCode).toBe(200);
      const { rows } = await app.db.query<{ id: string }>('SELECT id::text AS id FROM audit_events WHERE business_id = $1 ORDER BY seq', [fresh.businessId]);
      expect(before.json()).toEqual({ valid: true, checked: rows.length });

      const target = rows[2].id;
      const client = await app.db.connect();
      try {
        // What only a superuser can do: switch the guard off, edit, switch it back on.
        await client.query('BEGIN');
        await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
        await client.query(`UPDATE audit_events SET detail = jsonb_build_object('forged', true) WHERE id = $1`, [target]);
        await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const after = await get(fresh, '/v1/audit-events/verify');
      expect(after.json()).toEqual({ valid: false, checked: 3, firstBrokenId: target });
      // Only that business's chain is affected.
      expect((await get(admin, '/v1/audit-events/verify')).json()).toMatchObject({ valid: true });
    });

    it('answers an empty chain with valid: true, checked: 0', async () => {
      expect(await app.app.get(AuditTrailService).verify(randomUUID())).toEqual({ valid: true, checked: 0 });
    });

    it('covers events still in the audit inbox (folded before verifying)', async () => {
      const fresh = await readyAdmin(t, { businessName: 'Inbox Check' });
      await app.db.query(`INSERT INTO audit_inbox (business_id, actor_type, action, detail) VALUES ($1, 'customer', 'invoice.viewed', '{}')`, [fresh.businessId]);
      const verified = await get(fresh, '/v1/audit-events/verify');
      const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1', [fresh.businessId]);
      expect(verified.json()).toEqual({ valid: true, checked: rows[0].n });
      expect((await app.db.query('SELECT 1 FROM audit_inbox WHERE business_id = $1', [fresh.businessId])).rowCount).toBe(0);
    });
  });

  describe('signed export', () => {
    const script = join(process.cwd(), 'scripts', 'verify-audit-export.mjs');

    async function offlineCheck(keyPem: string, body: string): Promise<{ code: number; stdout: string; stderr: string }> {
      const keyFile = join(workDir, `key-${randomUUID()}.pem`);
      const exportFile = join(workDir, `export-${randomUUID()}.jsonl`);
      writeFileSync(keyFile, keyPem);
      writeFileSync(exportFile, body);
      try {
        const { stdout, stderr } = await run(process.execPath, [script, '--public-key', keyFile, exportFile]);
        return { code: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code: number; stdout: string; stderr: string };
        return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
      }
    }

    it('exports JSON lines with a detached Ed25519 signature and the chain head, which the offline command accepts', async () => {
      const keyResponse = await get(admin, '/v1/audit-events/export/public-key');
      expect(keyResponse.statusCode).toBe(200);
      const key = keyResponse.json();
      expect(key).toEqual({ format: 'ledgerline-audit-export.v1', algorithm: 'Ed25519', keyId: expect.stringMatching(/^ed25519-[0-9a-f]{16}$/), publicKeyPem: expect.stringContaining('BEGIN PUBLIC KEY'), publicKey: expect.any(String) });

      const response = await get(admin, '/v1/audit-events/export');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('application/x-ndjson');
      expect(response.headers['content-disposition']).toMatch(/^attachment; filename="audit-.+\.jsonl"$/);
      const lines = response.body.trimEnd().split('\n');
      const signature = JSON.parse(lines[lines.length - 1]);
      expect(signature).toMatchObject({ type: 'signature', format: 'ledgerline-audit-export.v1', algorithm: 'Ed25519', keyId: key.keyId, publicKey: key.publicKey });
      const events = lines.slice(0, -1).map((line) => JSON.parse(line));
      const { rows } = await app.db.query<{ id: string; hash: Buffer }>(
        `SELECT id::text AS id, hash FROM audit_events WHERE business_id = $1 AND action <> 'audit.exported' ORDER BY seq`,
        [admin.businessId],
      );
      expect(events.map((event) => event.id)).toEqual(rows.map((row) => row.id));
      const head = rows[rows.length - 1];
      expect(signature.statement).toContain(`head-hash ${head.hash.toString('hex')}`);
      expect(signature.statement).toContain(`business ${admin.businessId}`);
      expect(response.headers['x-audit-chain-head']).toBe(`${events[events.length - 1].seq}:${head.hash.toString('hex')}`);

      const check = await offlineCheck(key.publicKeyPem, response.body);
      expect(check).toMatchObject({ code: 0 });
      expect(check.stdout).toContain('OK:');

      // The export itself is in the trail, with the head it covered, and raised a security event.
      const { rows: exported } = await app.db.query(`SELECT detail FROM audit_events WHERE business_id = $1 AND action = 'audit.exported'`, [admin.businessId]);
      expect(exported[0].detail).toMatchObject({ headSeq: events[events.length - 1].seq, headHash: head.hash.toString('hex'), events: events.length });
      await waitFor(async () => (await app.db.query(`SELECT 1 FROM security_events WHERE business_id = $1 AND kind = 'data_exported'`, [admin.businessId])).rowCount, { what: 'data_exported event' });
    });

    it('is refused offline when an event line is altered, removed, or checked against another key', async () => {
      const key = (await get(admin, '/v1/audit-events/export/public-key')).json();
      const body = (await get(admin, '/v1/audit-events/export')).body;
      const lines = body.trimEnd().split('\n');

      const altered = [...lines];
      altered[1] = altered[1].replace('"action":"', '"action":"x');
      const alteredCheck = await offlineCheck(key.publicKeyPem, `${altered.join('\n')}\n`);
      expect(alteredCheck.code).toBe(1);
      expect(alteredCheck.stderr).toContain('do not match the signed digest');

      const removed = [lines[0], ...lines.slice(2)];
      expect((await offlineCheck(key.publicKeyPem, `${removed.join('\n')}\n`)).code).toBe(1);

      const { generateKeyPairSync } = await import('node:crypto');
      const foreignKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const wrongKey = await offlineCheck(foreignKey, body);
      expect(wrongKey.code).toBe(1);
      expect(wrongKey.stderr).toContain('signature does not verify');
    });

    it('exports only the caller’s business', async () => {
      const body = (await get(other, '/v1/audit-events/export')).body;
      const events = body.trimEnd().split('\n').slice(0, -1).map((line) => JSON.parse(line));
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((event) => event.businessId === other.businessId)).toBe(true);
    });
  });
});
