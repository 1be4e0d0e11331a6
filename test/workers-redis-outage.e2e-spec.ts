import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { EmailOutbox } from '../src/notifications/email-outbox.service.js';
import { startFakePostmark, type FakePostmark } from './fakes/fake-postmark.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { readyAdmin, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';
import { freeTcpPort } from './harness/processes.js';

const INVOICES = 5;

/**
 * Redis goes away while invoices are being sent. Only on the Redis footprint (REDIS_URL set):
 * with the queue on PostgreSQL there is no Redis to stop. The suite stops and restarts a Redis
 * of its own (same flags as `.ci/run`, on a free port), never the shared one other suites use,
 * and kills it in afterAll whatever happened.
 */
if (process.env.REDIS_URL) {
  describe('Redis outage while invoices are sent', () => {
    let port: number;
    let redis: ChildProcess | undefined;
    let postmark: FakePostmark;
    let t: TestApp;
    let admin: TestAccount;

    const startRedis = async (): Promise<void> => {
      redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await waitFor(async () => {
        const client = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
        client.on('error', () => undefined);
        try {
          await client.connect();
          return (await client.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          client.disconnect();
        }
      }, { what: 'Redis to answer', timeoutMs: 15_000 });
    };
    const stopRedis = async (): Promise<void> => {
      const child = redis;
      redis = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };

    beforeAll(async () => {
      port = await freeTcpPort();
      await startRedis();
      postmark = await startFakePostmark();
      t = await startTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${port}`, POSTMARK_SERVER_TOKEN: postmark.token, POSTMARK_API_BASE: postmark.url } });
      admin = await readyAdmin(t, { businessName: 'Outage Ltd', email: uniqueEmail('outage') });
    }, 120_000);
    afterAll(async () => {
      // Redis back first, so that closing the app does not wait on it.
      if (!redis) await startRedis().catch(() => undefined);
      await t?.close();
      await stopRedis();
      await postmark?.close();
    }, 120_000);

    it('keeps answering while Redis is down, and every email goes out once after it returns', async () => {
      const recipients: string[] = [];
      const invoices: string[] = [];
      for (let i = 0; i < INVOICES; i += 1) {
        const to = uniqueEmail(`outage-${i}`);
        recipients.push(to);
        invoices.push((await createInvoice(t, admin, invoiceBody(await seedCustomer(t, admin.businessId, { email: to })))).id);
      }
      // One goes out before the outage.
      expect((await post(t, admin, `/v1/invoices/${invoices[0]}/send`)).statusCode).toBe(200);
      await postmark.waitFor('the first email', () => postmark.accepted.some((message) => message.To === recipients[0]));

      await stopRedis();
      for (const invoiceId of invoices.slice(1)) {
        const started = Date.now();
        const sent = await post(t, admin, `/v1/invoices/${invoiceId}/send`);
        expect(sent.statusCode).toBe(200);
        expect(Date.now() - started).toBeLessThan(10_000);
      }
      expect((await get(t, admin, '/v1/invoices')).statusCode).toBe(200);
      const ready = await t.inject('/health/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks).toEqual({ database: 'up', queue: 'down' });
      // Durable: every email is a row, waiting.
      const { rows } = await t.db.query<{ status: string }>(`SELECT status FROM emails WHERE business_id = $1 AND template = 'invoice' AND to_address = ANY($2)`, [admin.businessId, recipients.slice(1)]);
      expect(rows.map((row) => row.status)).toEqual(Array(INVOICES - 1).fill('queued'));

      await startRedis(); // empty, as a Redis without persistence comes back
      await waitFor(async () => (await t.inject('/health/ready')).statusCode === 200, { what: 'readiness', timeoutMs: 60_000, intervalMs: 500 });
      // The sweeper's minute (here at once): rows still queued get their job again.
      await t.app.get(EmailOutbox).sweep({ graceMs: 0 });
      await postmark.waitFor('every email', () => recipients.every((to) => postmark.accepted.some((message) => message.To === to)), 90_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      for (const to of recipients) expect(postmark.accepted.filter((message) => message.To === to)).toHaveLength(1);
      const after = await t.db.query<{ status: string }>(`SELECT status FROM emails WHERE business_id = $1 AND template = 'invoice' AND to_address = ANY($2)`, [admin.businessId, recipients]);
      expect(after.rows.map((row) => row.status)).toEqual(Array(INVOICES).fill('sent'));
    }, 240_000);
  });
}
