import { randomUUID } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AuditChainCheck } from '../src/audit/audit-chain-check.js';
import { AuditService } from '../src/audit/audit.service.js';
import { JobHandler } from '../src/jobs/job-handler.decorator.js';
import { redactString } from '../src/common/logging/redact.js';
import { JobsService } from '../src/jobs/jobs.service.js';
import { startTestApp, type TestApp } from './harness/app.js';

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A uuid the log redaction leaves intact: about 1 uuid in 800 looks like a card number to
 * it (see redaction.e2e-spec.ts), and these tests compare ids read back from the logs.
 */
function redactionSafeUuid(): string {
  for (;;) {
    const id = randomUUID();
    if (redactString(id) === id) return id;
  }
}

// A second processor of the same job: the boot must refuse it. It keeps a ModuleRef so the test
// can find what the failed boot had opened and check it was closed.
let rogueModuleRef: ModuleRef | undefined;

@Injectable()
class RogueChainVerifier {
  constructor(moduleRef: ModuleRef) {
    rogueModuleRef = moduleRef;
  }

  @JobHandler('audit.verify-chain')
  async verifyAgain(): Promise<void> {}
}

@Module({ providers: [RogueChainVerifier] })
class RogueModule {}

// Runs before any app of this file is up, so the process's sockets and timers are only Jest's.
describe('Jobs: the handler registry', () => {
  it('refuses to boot when a job has two handlers, and leaves nothing running', async () => {
    const resourcesBefore = countResources();
    rogueModuleRef = undefined;

    await expect(startTestApp({ extraModules: [RogueModule] })).rejects.toThrow(
      /job "audit\.verify-chain" has 2 handlers: (AuditChainCheck\.verify, RogueChainVerifier\.verifyAgain|RogueChainVerifier\.verifyAgain, AuditChainCheck\.verify)/,
    );

    // What the failed boot opened, found through the rogue provider's ModuleRef.
    expect(rogueModuleRef).toBeDefined();
    const dataSource = rogueModuleRef!.get(DataSource, { strict: false });
    const databaseName = new URL((dataSource.options as { url: string }).url).pathname.slice(1);
    const queues = (rogueModuleRef!.get(JobsService, { strict: false }) as unknown as { queues: Map<string, { qualifiedName?: string }> }).queues;
    const queueKeys = queues.get('maintenance')?.qualifiedName;

    expect(dataSource.isInitialized).toBe(false);
    const admin = new pg.Client({ connectionString: process.env.LEDGERLINE_TEST_ADMIN_URL });
    await admin.connect();
    try {
      expect((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [databaseName])).rowCount).toBe(0);
    } finally {
      await admin.end();
    }
    if (process.env.REDIS_URL) {
      expect(queueKeys).toMatch(/^ll-test-[0-9a-f]+:maintenance$/);
      const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        expect(await redis.keys(`${queueKeys}:*`)).toEqual([]);
      } finally {
        redis.disconnect();
      }
    }
    // Pool sockets and timers close asynchronously: give them a moment, then compare. Jest reuses
    // worker processes, so what an earlier suite left closing may go away meanwhile: the failed
    // boot must add nothing, of any kind.
    await waitFor('the failed boot to release its sockets and timers', () => noneAdded(countResources(), resourcesBefore), 3_000).catch(() => undefined);
    const after = countResources();
    expect(Object.keys(after).filter((kind) => after[kind] > (resourcesBefore[kind] ?? 0))).toEqual([]);
  });
});

describe('Jobs: nightly audit chain check and retry policy', () => {
  let t: TestApp;
  let audit: AuditService;
  let jobs: JobsService;
  const poisonJobId = `test.poison.${redactionSafeUuid()}`;

  beforeAll(async () => {
    t = await startTestApp();
    // See audit.e2e-spec.ts: a client still closing when close() drops the database.
    t.db.on('error', () => undefined);
    audit = t.app.get(AuditService);
    jobs = t.app.get(JobsService);
    // Started first because its retries take ~15 s of backoff; checked by the last test.
    // A business id that is not a uuid makes the handler's query throw on every attempt.
    await jobs.dispatch('audit.verify-chain', { businessId: 'not-a-uuid' }, { jobId: poisonJobId });
  });
  afterAll(async () => {
    await t?.close();
  });

  const brokenChainLines = (): Array<Record<string, unknown>> => t.logs.filter((line) => line.msg === 'audit chain is broken');

  async function drained(): Promise<boolean> {
    const { maintenance } = await jobs.depths();
    return maintenance.waiting === 0 && maintenance.active === 0;
  }

  it('checks every chain nightly, reports only the broken one, and runs each chain once per day', async () => {
    const intact = redactionSafeUuid();
    const tampered = redactionSafeUuid();
    for (const businessId of [intact, tampered]) {
      for (let i = 1; i <= 3; i += 1) {
        await audit.record({ businessId, actor: { type: 'user', id: 'u1' }, action: `invoice.step-${i}`, detail: { amount: i } });
      }
    }
    const { rows } = await t.db.query<{ id: string }>('SELECT id::text AS id FROM audit_events WHERE business_id = $1 AND seq = 2', [tampered]);
    const client = await t.db.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
      await client.query(`UPDATE audit_events SET detail = '{"amount": 2000}' WHERE id = $1`, [rows[0].id]);
      await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
      await client.query('COMMIT');
    } finally {
      client.release();
    }

    const check = t.app.get(AuditChainCheck);
    const night = new Date('2026-11-21T03:17:00Z');
    expect(await check.scheduleAll(night)).toBe(2);
    // The scheduler firing twice the same night (a restart, a second worker) adds nothing.
    expect(await check.scheduleAll(night)).toBe(2);

    await waitFor('the broken chain to be reported', () => brokenChainLines().length >= 1);
    await waitFor('the queue to drain', drained);
    await sleep(1_000);
    const reports = brokenChainLines();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ level: 'error', businessId: tampered, firstBrokenId: rows[0].id, checked: 2 });
    expect(t.logs.some((line) => line.businessId === intact)).toBe(false);

    // Control: the next night is a new job id, so the chain is checked (and reported) again.
    expect(await check.scheduleAll(new Date('2026-11-22T03:17:00Z'))).toBe(2);
    await waitFor('the second night to report', () => brokenChainLines().length >= 2);
    await waitFor('the queue to drain', drained);
    await sleep(500);
    expect(brokenChainLines().map((line) => line.businessId)).toEqual([tampered, tampered]);
  });

  it('retries a failing job by the queue policy (3 attempts, exponential backoff from 5 s), then fails it for good', async () => {
    const linesFor = (): Array<Record<string, unknown>> => t.logs.filter((line) => line.jobId === poisonJobId);
    await waitFor('the final failure', () => linesFor().some((line) => line.final === true), 30_000, 250);

    const lines = linesFor();
    expect(lines.map((line) => [line.level, line.msg, line.attempt, line.final])).toEqual([
      ['warn', 'job failed, will retry', 1, false],
      ['warn', 'job failed, will retry', 2, false],
      ['error', 'job failed for good', 3, true],
    ]);
    expect(lines[2]).toMatchObject({ queue: 'maintenance', job: 'audit.verify-chain' });
    const at = lines.map((line) => Date.parse(String(line.time)));
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(4_500);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(9_500);
    expect((await jobs.depths()).maintenance.failed).toBeGreaterThanOrEqual(1);
  }, 40_000);
});

const noneAdded = (now: Record<string, number>, before: Record<string, number>): boolean => Object.keys(now).every((kind) => now[kind] <= (before[kind] ?? 0));

/** Sockets, servers and timers: what keeps a process alive. */
function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TCPSocketWrap' || kind === 'TCPServerWrap' || kind === 'Timeout') counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}
