import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createHttpApp } from '../src/common/http/http-app.js';
import { createLogger } from '../src/common/logging/logger.js';
import { addDays, todayUtc } from '../src/common/dates.js';
import { loadConfig } from '../src/config/config.js';
import { JobsService } from '../src/jobs/jobs.service.js';
import { EmailOutbox } from '../src/notifications/email-outbox.service.js';
import { startFakePostmark, type FakePostmark } from './fakes/fake-postmark.js';
import type { TestApp } from './harness/app.js';
import { createTestDatabase } from './harness/databases.js';
import { readyAdmin, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, post, seedCustomer } from './harness/invoicing.js';
import { freeTcpPort, runService, type RunningProcess } from './harness/processes.js';

const LINES = [{ description: 'Service', quantity: 1, unitPrice: 5_000, taxRateBps: 0 }];
// Real processes on 2 shared CPU cores: boots, BullMQ's stalled-job recovery (about 30–60 s)
// and the waits below are given room.
const LONG = 240_000;

/**
 * A Redis of this suite's own (when the suite runs on Redis): worker processes use BullMQ's
 * default prefix, so on the shared Redis other suites' worker processes could take their jobs.
 * Started like `.ci/run` starts Redis, but on a free port and as our child process.
 */
async function startPrivateRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freeTcpPort();
  const child: ChildProcess = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(async () => {
    const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }, { what: 'the private Redis', timeoutMs: 15_000 });
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Two (or three) real worker processes (`dist/src/main.js` with APP_ROLE=worker) and, in this
 * process, an API-role app (no workers, no cron) on the same database and queues, used to sign
 * up, send invoices and look at queue depths. Postmark is the fake, shared by all.
 */
describe('worker processes', () => {
  let postmark: FakePostmark;
  let redis: { url: string; stop(): Promise<void> } | undefined;
  let database: { url: string; drop(): Promise<void> };
  let dataDir: string;
  let api: TestApp;
  let admin: TestAccount;
  const workers: RunningProcess[] = [];

  beforeAll(async () => {
    postmark = await startFakePostmark();
    if (process.env.REDIS_URL) redis = await startPrivateRedis();
    database = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'll-workers-'));
    api = await startApiApp();
    admin = await readyAdmin(api, { businessName: 'Two Workers Ltd', email: uniqueEmail('workers') });
  }, LONG);
  afterAll(async () => {
    for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await Promise.all(workers.map((worker) => worker.exit));
    await api?.close();
    await database?.drop();
    await redis?.stop();
    await postmark?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, LONG);

  const env = (): Record<string, string | undefined> => ({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: database.url,
    REDIS_URL: redis?.url,
    LEDGERLINE_DATA_DIR: dataDir,
    POSTMARK_SERVER_TOKEN: postmark.token,
    POSTMARK_API_BASE: postmark.url,
    EMAIL_FROM: 'Ledgerline <billing@ledgerline.test>',
  });

  async function startApiApp(): Promise<TestApp> {
    const config = loadConfig({ ...env(), APP_ROLE: 'api' }, { dataDir });
    const raw: string[] = [];
    const logs: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        raw.push(chunk.toString('utf8'));
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    // The worker processes use BullMQ's default prefix; this app must see the same queues.
    const app = await createHttpApp({ config, databaseUrl: database.url, logger: createLogger('info', sink), queuePrefix: 'ledgerline' });
    await app.init();
    const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
    await fastify.ready();
    const db = new pg.Pool({ connectionString: database.url, max: 4 });
    db.on('error', () => undefined);
    return {
      app,
      config,
      inject: (request) => fastify.inject(request as InjectOptions),
      logs,
      rawLogs: () => raw.join(''),
      db,
      databaseUrl: database.url,
      queuePrefix: 'ledgerline',
      close: async () => {
        await app.close();
        await db.end();
      },
    };
  }

  async function startWorker(): Promise<RunningProcess> {
    const worker = runService({ ...env(), APP_ROLE: 'worker', PORT: String(await freeTcpPort()) });
    workers.push(worker);
    await worker.waitForLog((line) => line.msg === 'Ledgerline worker ready (processors and cron, no HTTP listener)', 90_000);
    return worker;
  }

  async function stop(worker: RunningProcess, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    worker.child.kill(signal);
    return worker.exit;
  }

  /** No job waiting, running or delayed on the email and scheduled queues. */
  async function drained(): Promise<boolean> {
    const depths = await api.app.get(JobsService).depths();
    return ['email', 'scheduled'].every((queue) => depths[queue].waiting + depths[queue].active + depths[queue].delayed === 0);
  }

  const emailIdOf = async (to: string): Promise<string> =>
    waitFor(async () => (await api.db.query<{ id: string }>('SELECT id FROM emails WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1', [to])).rows[0]?.id, { what: `the email to ${to}` });
  const statusOf = async (emailId: string) => (await api.db.query<{ status: string; provider_message_id: string | null; attempts: number }>('SELECT status, provider_message_id, attempts FROM emails WHERE id = $1', [emailId])).rows[0];

  async function invoiceFor(to: string, dueDate?: string): Promise<string> {
    const customerId = await seedCustomer(api, admin.businessId, { name: 'Carla Customer', email: to });
    const today = todayUtc();
    const invoice = await createInvoice(api, admin, { customerId, currency: 'EUR', issueDate: addDays(dueDate && dueDate < today ? dueDate : today, -30), dueDate: dueDate ?? addDays(today, 30), lines: LINES });
    return invoice.id;
  }

  it('two workers fire every schedule at the same moment: each reminder and each recurring invoice exactly once', async () => {
    const today = todayUtc();
    expect((await api.inject({ method: 'PUT', url: '/v1/reminders/settings', headers: admin.auth, payload: { sendHour: 0, timeZone: 'UTC' } })).statusCode).toBe(200);
    // Six open invoices, each with a stage due now.
    const reminded = new Map<string, string>();
    for (const due of [addDays(today, 3), today, addDays(today, -1), addDays(today, -7), addDays(today, -8), addDays(today, -14)]) {
      const to = uniqueEmail('overdue');
      const invoiceId = await invoiceFor(to, due);
      expect((await post(api, admin, `/v1/invoices/${invoiceId}/finalize`)).statusCode).toBe(200);
      await api.db.query(`UPDATE invoices SET finalized_at = now() - interval '60 days' WHERE id = $1`, [invoiceId]);
      reminded.set(invoiceId, to);
    }
    // A weekly template with autoSend, created three weeks ago: three missed periods and today's.
    const recurringTo = uniqueEmail('recurring');
    const customerId = await seedCustomer(api, admin.businessId, { name: 'Regular', email: recurringTo });
    const template = await post(api, admin, '/v1/recurring-invoices', { customerId, currency: 'EUR', lines: LINES, netDays: 14, autoSend: true, schedule: { every: 1, unit: 'week', startDate: addDays(today, -21) } });
    expect(template.statusCode).toBe(201);
    await api.db.query(`UPDATE recurring_invoices SET created_at = now() - interval '22 days' WHERE id = $1`, [template.json().id]);

    const [first, second] = await Promise.all([startWorker(), startWorker()]);
    const fire = async (): Promise<void> => {
      const marks = [first, second].map((worker) => worker.output().length);
      first.child.kill('SIGUSR2');
      second.child.kill('SIGUSR2');
      await Promise.all([first, second].map((worker, index) => waitFor(async () => worker.output().slice(marks[index]).includes('every schedule triggered'), { what: 'the schedules to fire', timeoutMs: 30_000 })));
    };

    await fire();
    const reminders = async () => (await api.db.query<{ invoice_id: string; stage: number }>('SELECT invoice_id::text, stage FROM invoice_reminders WHERE business_id = $1', [admin.businessId])).rows;
    const generated = async () => (await api.db.query<{ id: string; recurring_period: string; send_count: number }>('SELECT id::text, recurring_period, send_count FROM invoices WHERE recurring_invoice_id = $1 ORDER BY recurring_period', [template.json().id])).rows;
    await waitFor(async () => (await reminders()).length === reminded.size && (await generated()).length === 4, { what: 'every reminder and recurring invoice', timeoutMs: 90_000 });
    await waitFor(async () => postmark.accepted.filter((message) => message.To === recurringTo).length === 4 && [...reminded.values()].every((to) => postmark.accepted.some((message) => message.To === to)), { what: 'their emails', timeoutMs: 90_000 });

    // And once more, both at once again: nothing new.
    await fire();
    await waitFor(drained, { what: 'the queues to drain', timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await waitFor(drained, { what: 'the queues to drain again', timeoutMs: 60_000 });

    const finalReminders = await reminders();
    expect(finalReminders).toHaveLength(reminded.size);
    expect(new Set(finalReminders.map((row) => row.invoice_id))).toEqual(new Set(reminded.keys()));
    expect((await generated()).map((row) => [row.recurring_period, row.send_count])).toEqual([['0', 1], ['1', 1], ['2', 1], ['3', 1]]);
    for (const to of reminded.values()) expect(postmark.accepted.filter((message) => message.To === to)).toHaveLength(1);
    expect(postmark.accepted.filter((message) => message.To === recurringTo)).toHaveLength(4);
    const runs = (await api.db.query<{ name: string; runs: string }>('SELECT name, runs FROM schedule_runs')).rows;
    expect(runs.map((run) => run.name)).toEqual(expect.arrayContaining(['reminders.scan', 'recurring.scan', 'sweep.email-outbox']));

    expect(await stop(first, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await stop(second, 'SIGTERM')).toEqual({ code: 0, signal: null });
  }, LONG);

  it('a worker killed (SIGKILL) in the middle of sends: each email is sent once', async () => {
    // One send Postmark accepted before the worker died, one it never took.
    const acceptedTo = uniqueEmail('killed-after');
    const lostTo = uniqueEmail('killed-before');
    postmark.script(acceptedTo, 'acceptThenHold');
    postmark.script(lostTo, 'hold');
    const doomed = await startWorker();
    for (const to of [acceptedTo, lostTo]) expect((await post(api, admin, `/v1/invoices/${await invoiceFor(to)}/send`)).statusCode).toBe(200);
    const acceptedId = await emailIdOf(acceptedTo);
    const lostId = await emailIdOf(lostTo);
    await postmark.waitFor('both sends to be in flight', () => [acceptedId, lostId].every((id) => postmark.requests.some((request) => request.emailId === id)));
    expect(await stop(doomed, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await statusOf(acceptedId)).status).toBe('sending');
    expect((await statusOf(lostId)).status).toBe('sending');

    const survivor = await startWorker();
    // The sweeper finds both stuck in `sending` (here without its five-minute wait) and queues their resolution.
    expect(await api.app.get(EmailOutbox).sweep({ staleSendingMs: 0 })).toBe(2);
    await waitFor(async () => (await statusOf(acceptedId)).status === 'sent' && (await statusOf(lostId)).status === 'sent', { what: 'both to be resolved', timeoutMs: 60_000 });
    // BullMQ also hands the killed worker's jobs to the live worker once their locks expire:
    // wait for that too, so that a second send would have happened by now.
    await waitFor(drained, { what: 'the killed jobs to be recovered', timeoutMs: 180_000, intervalMs: 1_000 });

    expect(postmark.acceptedFor(acceptedId)).toHaveLength(1);
    expect((await statusOf(acceptedId)).provider_message_id).toBe(postmark.acceptedFor(acceptedId)[0].MessageID);
    expect(postmark.requests.filter((request) => request.emailId === acceptedId)).toHaveLength(1);
    expect(postmark.acceptedFor(lostId)).toHaveLength(1);
    expect(postmark.requests.filter((request) => request.emailId === lostId)).toHaveLength(2);
    expect(await stop(survivor, 'SIGTERM')).toEqual({ code: 0, signal: null });
  }, LONG);

  it('SIGTERM lets a running send finish, then the worker exits 0', async () => {
    const to = uniqueEmail('graceful');
    postmark.script(to, 'acceptThenHold');
    const worker = await startWorker();
    expect((await post(api, admin, `/v1/invoices/${await invoiceFor(to)}/send`)).statusCode).toBe(200);
    const emailId = await emailIdOf(to);
    await postmark.waitFor('the send to be in flight', () => postmark.requests.some((request) => request.emailId === emailId));
    worker.child.kill('SIGTERM');
    await worker.waitForLog((line) => line.msg === 'shutting down');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(worker.child.exitCode).toBeNull(); // still finishing the job
    postmark.release();
    expect(await worker.exit).toEqual({ code: 0, signal: null });
    expect(await statusOf(emailId)).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: postmark.acceptedFor(emailId)[0].MessageID });
  }, LONG);
});
