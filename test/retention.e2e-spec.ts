import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { AuditTrailService, verifyStoredChain } from '../src/audit/audit-export.js';
import { AuditService } from '../src/audit/audit.service.js';
import { RetentionService } from '../src/compliance/retention.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { enrollMfa, fromFreshIps, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';

const run = promisify(execFile);
type Response = Awaited<ReturnType<TestApp['inject']>>;
const LINES = [{ description: 'Gutter repair', quantity: 1, unitPrice: 10_000, taxRateBps: 2000 }];

/** The cutoff the database must compute: the latest fiscal-year end at least `years` before today (UTC). */
function expectedCutoff(years: number, month: number, today = new Date()): string {
  const t = new Date(Date.UTC(today.getUTCFullYear() - years, today.getUTCMonth(), today.getUTCDate()));
  const endOf = (year: number) => new Date(Date.UTC(year, month, 0));
  const thisYear = endOf(t.getUTCFullYear());
  return (thisYear <= t ? thisYear : endOf(t.getUTCFullYear() - 1)).toISOString().slice(0, 10);
}

/**
 * Retention: the setting, the dry run, the scheduled purge, and the narrow exception the
 * append-only audit log and the immutable invoice history make for it (only past the cutoff the
 * database computes itself, only under the purge's flag, audit events only as an anchored prefix).
 */
describe('retention', () => {
  let app: TestApp;
  let t: TestApp;
  let admin: TestAccount;
  let retention: RetentionService;
  let audit: AuditService;
  let workDir: string;

  beforeAll(async () => {
    app = await startTestApp();
    app.db.on('error', () => undefined);
    t = fromFreshIps(app);
    retention = app.app.get(RetentionService);
    audit = app.app.get(AuditService);
    admin = await readyAdmin(t, { businessName: 'Old Books Carpentry' });
    workDir = mkdtempSync(join(tmpdir(), 'll-retention-'));
  });
  afterAll(async () => {
    rmSync(workDir, { recursive: true, force: true });
    await app?.close();
  });

  const expectProblem = (response: Response, status: number, code?: string): void => {
    expect({ status: response.statusCode, body: response.json() }).toEqual({ status, body: expect.objectContaining(code ? { code } : {}) });
    expect(response.headers['content-type']).toContain('application/problem+json');
  };
  const call = (account: TestAccount, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object): Promise<Response> =>
    t.inject({ method, url, headers: account.auth, ...(payload ? { payload } : {}) });

  async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await app.db.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  describe('settings', () => {
    it('defaults to 7 years after a fiscal year ending in December, with the cutoff computed by the database', async () => {
      const fresh = await readyAdmin(t, { businessName: 'Defaults' });
      const response = await call(fresh, 'GET', '/v1/business/retention');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ retentionYears: 7, fiscalYearEndMonth: 12, financialCutoff: expectedCutoff(7, 12), accessLogDays: 365, webhookPayloadDays: 90, minimumRetentionYears: 5 });
    });

    it('changes the setting (admin only), audited and raised as a security event', async () => {
      const fresh = await readyAdmin(t, { businessName: 'Changer' });
      const changed = await call(fresh, 'PATCH', '/v1/business/retention', { retentionYears: 10, fiscalYearEndMonth: 6 });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toMatchObject({ retentionYears: 10, fiscalYearEndMonth: 6, financialCutoff: expectedCutoff(10, 6) });
      const { rows } = await app.db.query(`SELECT detail FROM audit_events WHERE business_id = $1 AND action = 'business.retention_changed'`, [fresh.businessId]);
      expect(rows[0].detail).toEqual({ from: { retentionYears: 7, fiscalYearEndMonth: 12 }, to: { retentionYears: 10, fiscalYearEndMonth: 6 } });
      await waitFor(async () => (await app.db.query(`SELECT 1 FROM security_events WHERE business_id = $1 AND kind = 'retention_changed'`, [fresh.businessId])).rowCount, { what: 'retention_changed event' });

      const invitee = { email: uniqueEmail('billing'), password: strongPassword() };
      const joined = await inviteAndAccept(t, fresh, invitee, 'billing');
      const session = await mobileLogin(t, invitee);
      const billing = await enrollMfa(t, { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth });
      expectProblem(await call(billing, 'PATCH', '/v1/business/retention', { retentionYears: 8 }), 403, 'role_not_allowed');
      expectProblem(await call(billing, 'GET', '/v1/business/retention/dry-run'), 403, 'role_not_allowed');
    });

    it.each([
      [{ retentionYears: 4 }],
      [{ retentionYears: 31 }],
      [{ retentionYears: '7' }],
      [{ retentionYears: 7.5 }],
      [{ fiscalYearEndMonth: 0 }],
      [{ fiscalYearEndMonth: 13 }],
      [{ retentionYears: 7, other: true }],
    ])('refuses %j with 400', async (body) => {
      expectProblem(await call(admin, 'PATCH', '/v1/business/retention', body), 400);
    });

    it('is bounded in the database too (at least 5 years)', async () => {
      await expect(app.db.query('UPDATE businesses SET retention_years = 1 WHERE id = $1', [admin.businessId])).rejects.toMatchObject({ constraint: 'businesses_retention_years_check' });
    });
  });

  describe('dry run and purge of a business', () => {
    let fresh: TestAccount;
    const ids: Record<string, string> = {};

    async function invoice(account: TestAccount): Promise<string> {
      const created = await call(account, 'POST', '/v1/invoices', { customerId: ids.customer, currency: 'EUR', lines: LINES });
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      expect((await call(account, 'POST', `/v1/invoices/${id}/finalize`)).statusCode).toBe(200);
      return id;
    }
    const backdate = (table: string, id: string, dates: Record<string, string>): Promise<unknown> =>
      app.db.query(`UPDATE ${table} SET ${Object.keys(dates).map((column, index) => `${column} = $${index + 2}`).join(', ')} WHERE id = $1`, [id, ...Object.values(dates)]);

    beforeAll(async () => {
      fresh = await readyAdmin(t, { businessName: 'Purge Me Ltd' });
      ids.customer = (await call(fresh, 'POST', '/v1/customers', { name: 'Long-time client', email: 'client@old.example' })).json().id;
      // Old and paid: purged, with its credit note and versions.
      ids.oldPaid = await invoice(fresh);
      expect((await call(fresh, 'POST', `/v1/invoices/${ids.oldPaid}/credit-notes`, { amount: 1000, reason: 'Goodwill' })).statusCode).toBe(201);
      await app.db.query(`UPDATE invoices SET status = 'paid', amount_paid = total - credited_total WHERE id = $1`, [ids.oldPaid]);
      await backdate('invoices', ids.oldPaid, { issue_date: '2012-03-01', due_date: '2012-03-31' });
      // Old and void: purged (the void stored a version).
      ids.oldVoid = await invoice(fresh);
      expect((await call(fresh, 'POST', `/v1/invoices/${ids.oldVoid}/void`, { reason: 'Duplicate' })).statusCode).toBe(200);
      await backdate('invoices', ids.oldVoid, { issue_date: '2013-05-01', due_date: '2013-05-31' });
      // Old but still owed: kept.
      ids.oldOpen = await invoice(fresh);
      await backdate('invoices', ids.oldOpen, { issue_date: '2012-07-01', due_date: '2012-07-31' });
      // Recent: kept.
      ids.recent = await invoice(fresh);
      // An old estimate, a recent one.
      ids.oldEstimate = (await call(fresh, 'POST', '/v1/estimates', { customerId: ids.customer, currency: 'EUR', lines: LINES })).json().id;
      await backdate('estimates', ids.oldEstimate, { issue_date: '2012-01-10', expiry_date: '2012-02-10' });
      ids.recentEstimate = (await call(fresh, 'POST', '/v1/estimates', { customerId: ids.customer, currency: 'EUR', lines: LINES })).json().id;
      // Access logs: an old link open, an old security event, a session that ended two years ago.
      await app.db.query(`INSERT INTO document_opens (business_id, document_type, document_id, ip, opened_at) VALUES ($1, 'invoice', $2, '203.0.113.50', now() - interval '2 years')`, [fresh.businessId, ids.recent]);
      await app.db.query(`INSERT INTO document_opens (business_id, document_type, document_id, ip) VALUES ($1, 'invoice', $2, '203.0.113.51')`, [fresh.businessId, ids.recent]);
      await app.db.query(`INSERT INTO security_events (business_id, kind, severity, summary, first_seen_at, last_seen_at) VALUES ($1, 'data_exported', 'info', 'old', now() - interval '2 years', now() - interval '2 years')`, [fresh.businessId]);
      const { rows: [session] } = await app.db.query(
        `INSERT INTO sessions (user_id, business_id, client, idle_expires_at, absolute_expires_at, revoked_at, revoked_reason, created_at)
         VALUES ($1, $2, 'web', now() - interval '700 days', now() - interval '690 days', now() - interval '700 days', 'logout', now() - interval '701 days') RETURNING id`,
        [fresh.userId, fresh.businessId],
      );
      ids.oldSession = session.id;
      // An email sent in 2012, which a reminder of the old (still owed) invoice points at.
      const { rows: [email] } = await app.db.query(`INSERT INTO emails (business_id, to_address, template, subject, text_body, html_body, status, created_at) VALUES ($1, 'client@old.example', 'invoice', 'Invoice', 'x', 'x', 'captured', '2012-03-02') RETURNING id`, [fresh.businessId]);
      await app.db.query('INSERT INTO invoice_reminders (business_id, invoice_id, stage, email_id) VALUES ($1, $2, 7, $3)', [fresh.businessId, ids.oldOpen, email.id]);
      // The old paid invoice's payment, a provider refund of part of it, and an overpayment credit.
      const { rows: [payment] } = await app.db.query(
        `INSERT INTO payments (business_id, invoice_id, provider, provider_payment_id, method, amount, currency, received_on) VALUES ($1, $2, 'manual', $3, 'cash', 11000, 'EUR', '2012-03-15') RETURNING id`,
        [fresh.businessId, ids.oldPaid, `manual-${randomUUID()}`],
      );
      await app.db.query(
        `INSERT INTO refunds (business_id, payment_id, invoice_id, provider, origin, amount, currency, reason, status) VALUES ($1, $2, $3, 'manual', 'provider', 500, 'EUR', 'Partial', 'succeeded')`,
        [fresh.businessId, payment.id, ids.oldPaid],
      );
      await app.db.query(
        `INSERT INTO customer_credits (business_id, customer_id, invoice_id, payment_id, amount, currency, reason) VALUES ($1, $2, $3, $4, 100, 'EUR', 'overpayment')`,
        [fresh.businessId, ids.customer, ids.oldPaid, payment.id],
      );
      // A recent invoice's payment can never be deleted, flag or not.
      const { rows: [recentPayment] } = await app.db.query(
        `INSERT INTO payments (business_id, invoice_id, provider, provider_payment_id, method, amount, currency, received_on) VALUES ($1, $2, 'manual', $3, 'cash', 100, 'EUR', current_date) RETURNING id`,
        [fresh.businessId, ids.recent, `manual-${randomUUID()}`],
      );
      ids.recentPayment = recentPayment.id;
    });

    async function counts(): Promise<Record<string, number>> {
      const { rows: [row] } = await app.db.query(
        `SELECT (SELECT count(*)::int FROM invoices WHERE business_id = $1) AS invoices,
                (SELECT count(*)::int FROM credit_notes WHERE business_id = $1) AS credit_notes,
                (SELECT count(*)::int FROM invoice_versions WHERE business_id = $1) AS versions,
                (SELECT count(*)::int FROM estimates WHERE business_id = $1) AS estimates,
                (SELECT count(*)::int FROM document_opens WHERE business_id = $1) AS opens,
                (SELECT count(*)::int FROM security_events WHERE business_id = $1 AND first_seen_at < now() - interval '1 year') AS old_security_events,
                (SELECT count(*)::int FROM sessions WHERE business_id = $1) AS sessions,
                (SELECT count(*)::int FROM emails WHERE business_id = $1 AND created_at < '2013-01-01') AS old_emails,
                (SELECT count(*)::int FROM payments WHERE business_id = $1) AS payments,
                (SELECT count(*)::int FROM refunds WHERE business_id = $1) AS refunds,
                (SELECT count(*)::int FROM customer_credits WHERE business_id = $1) AS credits,
                (SELECT count(*)::int FROM invoice_reminders WHERE business_id = $1) AS reminders,
                (SELECT count(*)::int FROM audit_events WHERE business_id = $1) AS audit_events`,
        [fresh.businessId],
      );
      return row;
    }

    it('shows what the next purge would remove, and changes nothing', async () => {
      const before = await counts();
      const response = await call(fresh, 'GET', '/v1/business/retention/dry-run');
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toEqual({
        scope: 'business',
        generatedAt: expect.any(String),
        financialCutoff: expectedCutoff(7, 12),
        auditCutoff: expect.any(String),
        invoices: { purge: 2, keptBecauseUnpaid: 1, oldestIssueDate: '2012-03-01', newestIssueDate: '2013-05-01' },
        creditNotes: 1,
        invoiceVersions: expect.any(Number),
        estimates: 1,
        payments: 1,
        refunds: 1,
        emails: 1,
        linkOpens: 1,
        securityEvents: 1,
        sessions: 1,
        // The chain starts at signup (now): nothing of it is past retention.
        auditEvents: { purge: 0, throughSeq: null },
        webhookPayloads: null,
      });
      expect(body.invoiceVersions).toBeGreaterThanOrEqual(1);
      expect(await counts()).toEqual(before);
    });

    it('purges exactly that, keeps what is owed or recent, leaves a verifiable chain, and a rerun finds nothing', async () => {
      const plan = (await call(fresh, 'GET', '/v1/business/retention/dry-run')).json();
      const before = await counts();
      const done = await retention.purge({ businessId: fresh.businessId });
      expect({ ...done, generatedAt: undefined, auditCutoff: undefined }).toEqual({ ...plan, generatedAt: undefined, auditCutoff: undefined });
      const after = await counts();
      expect(after).toEqual({
        ...before,
        invoices: before.invoices - 2,
        credit_notes: 0,
        versions: before.versions - plan.invoiceVersions,
        estimates: before.estimates - 1,
        opens: before.opens - 1,
        old_security_events: 0,
        sessions: before.sessions - 1,
        old_emails: 0,
        payments: before.payments - 1,
        refunds: 0,
        credits: 0,
        reminders: before.reminders,
        audit_events: before.audit_events + 1,
      });
      // The kept invoice's reminder survives its purged email (so it is not sent again).
      expect((await app.db.query('SELECT email_id FROM invoice_reminders WHERE invoice_id = $1', [ids.oldOpen])).rows).toEqual([{ email_id: null }]);
      expect((await app.db.query('SELECT 1 FROM payments WHERE id = $1', [ids.recentPayment])).rowCount).toBe(1);
      await expect(inTransaction(async (client) => {
        await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
        await client.query('DELETE FROM payments WHERE id = $1', [ids.recentPayment]);
      })).rejects.toThrow(/payments is immutable/);
      const { rows: left } = await app.db.query('SELECT id FROM invoices WHERE business_id = $1', [fresh.businessId]);
      expect(left.map((row) => row.id).sort()).toEqual([ids.oldOpen, ids.recent].sort());
      const { rows: purged } = await app.db.query(`SELECT actor_type, detail FROM audit_events WHERE business_id = $1 AND action = 'retention.purged'`, [fresh.businessId]);
      expect(purged).toEqual([{ actor_type: 'system', detail: expect.objectContaining({ invoices: 2, creditNotes: 1, estimates: 1, financialCutoff: expectedCutoff(7, 12) }) }]);
      expect((await call(fresh, 'GET', '/v1/audit-events/verify')).json()).toMatchObject({ valid: true });

      const again = await retention.purge({ businessId: fresh.businessId });
      expect(again).toMatchObject({ invoices: { purge: 0 }, creditNotes: 0, estimates: 0, emails: 0, linkOpens: 0, securityEvents: 0, sessions: 0 });
      expect((await counts()).audit_events).toBe(after.audit_events);
    });
  });

  describe('audit events past retention', () => {
    const OLD = new Date('2012-06-01T10:00:00Z');

    /** A business whose chain starts long ago: 5 old events, then 3 recent ones. */
    async function oldChain(): Promise<string> {
      const { rows: [business] } = await app.db.query(`INSERT INTO businesses (name) VALUES ('Since 2012') RETURNING id`);
      for (let i = 0; i < 5; i += 1) {
        await audit.record({ businessId: business.id, actor: { type: 'user', id: 'u-1' }, action: 'invoice.sent', entity: { type: 'invoice', id: `old-${i}` }, occurredAt: new Date(OLD.getTime() + i * 60_000), detail: { n: i } });
      }
      for (let i = 0; i < 3; i += 1) await audit.record({ businessId: business.id, actor: { type: 'user', id: 'u-1' }, action: 'invoice.sent', entity: { type: 'invoice', id: `new-${i}` }, detail: { n: i } });
      return business.id;
    }

    it('refuses UPDATE always, and DELETE without the purge flag, before the cutoff, or outside the anchored prefix', async () => {
      const businessId = await oldChain();
      const { rows } = await app.db.query<{ id: string; seq: string; hash: Buffer }>('SELECT id::text AS id, seq::text AS seq, hash FROM audit_events WHERE business_id = $1 ORDER BY audit_events.seq', [businessId]);
      // No flag: the plain append-only answer.
      await expect(app.db.query('DELETE FROM audit_events WHERE id = $1', [rows[0].id])).rejects.toMatchObject({ code: '42501', message: 'audit_events is append-only: DELETE is not allowed' });
      // Flag but no anchor.
      await expect(inTransaction(async (client) => {
        await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
        await client.query('DELETE FROM audit_events WHERE id = $1', [rows[0].id]);
      })).rejects.toMatchObject({ code: '42501' });
      // An anchor can only be written under the flag, with the chain's real hash at that seq.
      await expect(app.db.query('INSERT INTO audit_chain_anchors (chain_id, business_id, through_seq, through_hash) VALUES ($1, $1, 5, $2)', [businessId, rows[4].hash])).rejects.toMatchObject({ code: '42501' });
      await expect(inTransaction(async (client) => {
        await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
        await client.query('INSERT INTO audit_chain_anchors (chain_id, business_id, through_seq, through_hash) VALUES ($1, $1, 5, $2)', [businessId, Buffer.alloc(32, 7)]);
      })).rejects.toMatchObject({ code: '42501' });
      // Flag and an anchor that covers everything: still no recent event, and never an UPDATE.
      await expect(inTransaction(async (client) => {
        await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
        await client.query('INSERT INTO audit_chain_anchors (chain_id, business_id, through_seq, through_hash) VALUES ($1, $1, 8, $2)', [businessId, rows[7].hash]);
        await client.query('DELETE FROM audit_events WHERE id = $1', [rows[6].id]);
      })).rejects.toMatchObject({ code: '42501', message: 'audit_events is append-only: DELETE is not allowed' });
      await expect(inTransaction(async (client) => {
        await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
        await client.query(`UPDATE audit_events SET action = 'forged' WHERE id = $1`, [rows[0].id]);
      })).rejects.toMatchObject({ code: '42501', message: 'audit_events is append-only: UPDATE is not allowed' });
      await expect(inTransaction(async (client) => {
        await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
        await client.query('TRUNCATE audit_events');
      })).rejects.toMatchObject({ code: '42501' });
      expect((await app.db.query('SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1', [businessId])).rows[0].n).toBe(8);
      expect((await app.db.query('SELECT count(*)::int AS n FROM audit_chain_anchors WHERE chain_id = $1', [businessId])).rows[0].n).toBe(0);
    });

    it('purges the old prefix, leaving an anchor from which the chain (API and offline export) still verifies', async () => {
      const businessId = await oldChain();
      const plan = await retention.dryRun(businessId);
      expect(plan.auditEvents).toEqual({ purge: 5, throughSeq: '5' });
      await retention.purge({ businessId });
      const { rows } = await app.db.query<{ seq: string; action: string }>('SELECT seq::text AS seq, action FROM audit_events WHERE business_id = $1 ORDER BY audit_events.seq', [businessId]);
      expect(rows.map((row) => row.seq)).toEqual(['6', '7', '8', '9']);
      expect(rows[3].action).toBe('retention.purged');
      expect(await retention.anchor(businessId)).toEqual({ throughSeq: '5', purgedEvents: 5 });
      expect(await verifyStoredChain(app.app.get(DataSource), businessId)).toEqual({ valid: true, checked: 4 });

      // The anchor only moves forward and cannot be removed, even under the flag.
      await expect(inTransaction(async (client) => {
        await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
        await client.query('UPDATE audit_chain_anchors SET through_seq = 3 WHERE chain_id = $1', [businessId]);
      })).rejects.toMatchObject({ code: '42501' });
      await expect(app.db.query('DELETE FROM audit_chain_anchors WHERE chain_id = $1', [businessId])).rejects.toMatchObject({ code: '42501' });

      // Removing the first remaining event behind the database's back is still detected.
      const client = await app.db.connect();
      try {
        await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
        await client.query(`DELETE FROM audit_events WHERE business_id = $1 AND seq = 6`, [businessId]);
        await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
      } finally {
        client.release();
      }
      const broken = await verifyStoredChain(app.app.get(DataSource), businessId);
      expect(broken).toMatchObject({ valid: false, checked: 1 });
    });

    it('exports a purged chain that the offline command verifies from its anchor', async () => {
      const businessId = await oldChain();
      await retention.purge({ businessId });
      const exported = await app.app.get(AuditTrailService).export({ businessId, userId: randomUUID(), role: 'admin', sessionId: randomUUID(), client: 'web', via: 'bearer', mfaEnabled: true, mfaRequired: true }, { ip: null, userAgent: null });
      const statement = JSON.parse(exported.body.trimEnd().split('\n').pop()!).statement as string;
      expect(statement).toContain('anchor-seq 5');
      const keyFile = join(workDir, 'key.pem');
      const exportFile = join(workDir, 'anchored.jsonl');
      writeFileSync(keyFile, app.app.get(AuditTrailService).signingKey.publicKeyPem);
      writeFileSync(exportFile, exported.body);
      const { stdout } = await run(process.execPath, [join(process.cwd(), 'scripts', 'verify-audit-export.mjs'), '--public-key', keyFile, exportFile]);
      expect(stdout).toContain('anchor      seq 5');
    });

    it('keeps security and access logs a year and webhook payloads 90 days: the platform purge', async () => {
      const old = new Date(Date.now() - 2 * 365 * 86_400_000);
      const { rows: [existing] } = await app.db.query('SELECT count(*)::int AS n FROM audit_events WHERE business_id IS NULL');
      // This suite's system chain is empty until now (nothing here failed a login): old events first.
      expect(existing.n).toBe(0);
      for (let i = 0; i < 3; i += 1) await audit.record({ businessId: null, actor: { type: 'anonymous' }, action: 'auth.login.failed', ip: '192.0.2.1', occurredAt: new Date(old.getTime() + i * 1000), detail: { reason: 'password' } });
      await audit.record({ businessId: null, actor: { type: 'anonymous' }, action: 'auth.login.failed', ip: '192.0.2.2', detail: { reason: 'password' } });
      await app.db.query(`INSERT INTO security_events (business_id, kind, severity, summary, first_seen_at, last_seen_at) VALUES (NULL, 'webhook_verification_failures', 'warning', 'old', now() - interval '2 years', now() - interval '2 years')`);
      // Webhook payloads: 90 days (an event not yet processed keeps its payload).
      const webhook = (eventId: string, status: string, days: number) => app.db.query(
        `INSERT INTO webhook_events (provider, event_id, event_type, payload, signature, status, received_at, processed_at)
         VALUES ('stripe', $1, 'payment_intent.succeeded', '{"id":"pi_1","amount":100}', 't=1,v1=abc', $2, now() - $3 * interval '1 day', CASE WHEN $2 = 'processed' THEN now() END)`,
        [eventId, status, days],
      );
      await webhook('evt_old', 'processed', 100);
      await webhook('evt_recent', 'processed', 10);
      await webhook('evt_pending', 'received', 100);
      const dry = await retention.dryRunPlatform();
      expect(dry).toMatchObject({ scope: 'platform', auditEvents: { purge: 3, throughSeq: '3' }, securityEvents: 1, webhookPayloads: 1 });
      await retention.purge({ businessId: null });
      const { rows } = await app.db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_events WHERE business_id IS NULL ORDER BY audit_events.seq');
      expect(rows.map((row) => row.seq)).toEqual(['4', '5']);
      expect(await verifyStoredChain(app.app.get(DataSource), null)).toEqual({ valid: true, checked: 2 });
      expect((await app.db.query(`SELECT count(*)::int AS n FROM security_events WHERE business_id IS NULL AND last_seen_at < now() - interval '1 year'`)).rows[0].n).toBe(0);
      const { rows: webhooks } = await app.db.query(`SELECT event_id, payload, signature FROM webhook_events ORDER BY event_id`);
      expect(webhooks).toEqual([
        { event_id: 'evt_old', payload: {}, signature: null },
        { event_id: 'evt_pending', payload: { id: 'pi_1', amount: 100 }, signature: 't=1,v1=abc' },
        { event_id: 'evt_recent', payload: { id: 'pi_1', amount: 100 }, signature: 't=1,v1=abc' },
      ]);
    });
  });

  describe('invoice history past retention', () => {
    it('refuses to delete a recent invoice’s versions or credit notes even under the purge flag', async () => {
      const fresh = await readyAdmin(t, { businessName: 'Recent History' });
      const customerId = (await call(fresh, 'POST', '/v1/customers', { name: 'C' })).json().id;
      const finalized = async (): Promise<string> => {
        const id = (await call(fresh, 'POST', '/v1/invoices', { customerId, currency: 'EUR', lines: LINES })).json().id;
        expect((await call(fresh, 'POST', `/v1/invoices/${id}/finalize`)).statusCode).toBe(200);
        return id;
      };
      const credited = await finalized();
      expect((await call(fresh, 'POST', `/v1/invoices/${credited}/credit-notes`, { amount: 500, reason: 'Discount' })).statusCode).toBe(201);
      const voided = await finalized();
      expect((await call(fresh, 'POST', `/v1/invoices/${voided}/void`, { reason: 'Wrong customer' })).statusCode).toBe(200);
      const of: Record<string, string> = { credit_notes: credited, invoice_versions: voided };
      for (const table of ['credit_notes', 'invoice_versions']) {
        const id = of[table];
        expect((await app.db.query(`SELECT 1 FROM ${table} WHERE invoice_id = $1`, [id])).rowCount).toBeGreaterThan(0);
        await expect(inTransaction(async (client) => {
          await client.query(`SELECT set_config('ledgerline.retention_purge', 'on', true)`);
          await client.query(`DELETE FROM ${table} WHERE invoice_id = $1`, [id]);
        })).rejects.toThrow(/immutable/);
        await expect(app.db.query(`UPDATE ${table} SET business_id = business_id WHERE invoice_id = $1`, [id])).rejects.toThrow(/immutable/);
      }
    });
  });

  describe('schedule', () => {
    it('queues one purge per business per day (a second run adds nothing) and the worker carries it out', async () => {
      const fresh = await readyAdmin(t, { businessName: 'Scheduled' });
      await app.db.query(`INSERT INTO security_events (business_id, kind, severity, summary, first_seen_at, last_seen_at) VALUES ($1, 'data_exported', 'info', 'old', now() - interval '2 years', now() - interval '2 years')`, [fresh.businessId]);
      const day = new Date();
      expect(await retention.scheduleAll(day)).toBeGreaterThan(1);
      await waitFor(async () => (await app.db.query('SELECT count(*)::int AS n FROM security_events WHERE business_id = $1', [fresh.businessId])).rows[0].n === 0, { what: 'the scheduled purge', timeoutMs: 30_000 });
      const events = await app.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1 AND action = 'retention.purged'`, [fresh.businessId]);
      await retention.scheduleAll(day);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await app.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1 AND action = 'retention.purged'`, [fresh.businessId])).rows[0].n).toBe(events.rows[0].n);
    });
  });
});
