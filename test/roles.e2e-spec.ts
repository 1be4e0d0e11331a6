import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase } from './harness/databases.js';
import { freeTcpPort, isListening, runService } from './harness/processes.js';

/**
 * The built service as real processes: the production refusals, the api and worker roles, and
 * the embedded footprint's start, restart and clean stop.
 */
describe('service processes and roles', () => {
  const secret = () => randomBytes(32).toString('base64url');
  const productionEnv = (overrides: Record<string, string | undefined> = {}) => ({
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://ledgerline:' + secret() + '@127.0.0.1:1/ledgerline',
    REDIS_URL: 'redis://127.0.0.1:1',
    APP_BASE_URL: 'https://billing.example.com',
    JWT_SECRET: secret(),
    LINK_SIGNING_KEYS: `k2:${secret()},k1:${secret()}`,
    ENCRYPTION_KEYS: `k1:${secret()}`,
    POSTMARK_SERVER_TOKEN: secret(),
    POSTMARK_WEBHOOK_USER: 'postmark',
    POSTMARK_WEBHOOK_PASSWORD: secret(),
    EMAIL_FROM: 'Billing <billing@example.com>',
    ...overrides,
  });

  it('refuses to boot in production without its required settings, naming each one', async () => {
    const run = runService({ NODE_ENV: 'production' });
    const { code } = await run.exit;
    expect(code).toBe(78);
    const output = run.output();
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS', 'POSTMARK_SERVER_TOKEN', 'POSTMARK_WEBHOOK_PASSWORD', 'EMAIL_FROM']) {
      expect(output).toContain(name);
    }
    expect(output).toContain('Ledgerline refused to start');
  });

  it('refuses short and example secrets in production and does not print them', async () => {
    const short = 'tooshort-' + randomBytes(4).toString('hex');
    const run = runService(productionEnv({ JWT_SECRET: short, LINK_SIGNING_KEYS: 'k1:replace-with-at-least-32-random-bytes-000000' }));
    const { code } = await run.exit;
    expect(code).toBe(78);
    expect(run.output()).toMatch(/JWT_SECRET must be at least 32 bytes/);
    expect(run.output()).toMatch(/LINK_SIGNING_KEYS \(key "k1"\) is an example value/);
    expect(run.output()).not.toContain(short);
  });

  it('refuses the embedded database in production even with every secret set', async () => {
    const run = runService(productionEnv({ DATABASE_URL: undefined }));
    const { code } = await run.exit;
    expect(code).toBe(78);
    expect(run.output()).toContain('DATABASE_URL is required in production');
  });

  describe('against the test database server', () => {
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    beforeAll(async () => {
      database = await createTestDatabase();
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('APP_ROLE=worker runs processors and cron with no HTTP listener, and stops on SIGTERM', async () => {
      const port = await freeTcpPort();
      const run = runService({ NODE_ENV: 'development', APP_ROLE: 'worker', PORT: String(port), DATABASE_URL: database.url, REDIS_URL: process.env.REDIS_URL, LEDGERLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'll-role-')) });
      const ready = await run.waitForLog((line) => typeof line.msg === 'string' && line.msg.includes('worker ready'));
      expect(ready.role).toBe('worker');
      expect(await isListening(port)).toBe(false);
      run.child.kill('SIGTERM');
      expect(await run.exit).toEqual({ code: 0, signal: null });
    });

    it('APP_ROLE=api serves HTTP and reports ready, and stops on SIGTERM', async () => {
      const port = await freeTcpPort();
      const run = runService({ NODE_ENV: 'development', APP_ROLE: 'api', PORT: String(port), DATABASE_URL: database.url, REDIS_URL: process.env.REDIS_URL, LEDGERLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'll-role-')) });
      const ready = await run.waitForLog((line) => line.msg === 'Ledgerline ready');
      expect(ready.role).toBe('api');
      const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok', checks: { database: 'up', queue: 'up' } });
      run.child.kill('SIGTERM');
      expect(await run.exit).toEqual({ code: 0, signal: null });
    });
  });

  it('the embedded footprint starts PostgreSQL under the data dir, keeps data across restarts and leaves no process behind', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'll-embedded-'));
    const env = { NODE_ENV: 'development', DATABASE_URL: undefined, REDIS_URL: undefined, LEDGERLINE_DATA_DIR: dataDir };
    try {
      // First boot: initdb, migrations, secrets generated.
      const port = await freeTcpPort();
      const first = runService({ ...env, PORT: String(port) });
      const started = await first.waitForLog((line) => line.msg === 'embedded PostgreSQL started', 120_000);
      const ready = await first.waitForLog((line) => line.msg === 'Ledgerline ready', 120_000);
      expect(ready).toMatchObject({ embeddedDatabase: true, queue: 'postgres' });
      expect(started.port).not.toBe(5432);
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
      expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
      const secrets = readFileSync(join(dataDir, 'secrets.json'), 'utf8');

      const password = readFileSync(join(dataDir, 'postgres-password'), 'utf8').trim();
      const client = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${String(started.port)}/ledgerline` });
      await client.connect();
      await client.query('CREATE TABLE kept_across_restarts (id int)');
      await client.query('INSERT INTO kept_across_restarts VALUES (42)');
      await client.end();

      first.child.kill('SIGTERM');
      expect(await first.exit).toEqual({ code: 0, signal: null });
      expect(postgresRunningOn(join(dataDir, 'postgres'))).toBe(false);

      // Second boot: same data, same secrets, a fresh port.
      const second = runService({ ...env, PORT: String(await freeTcpPort()) });
      const restarted = await second.waitForLog((line) => line.msg === 'embedded PostgreSQL started', 60_000);
      await second.waitForLog((line) => line.msg === 'Ledgerline ready', 60_000);
      const again = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${String(restarted.port)}/ledgerline` });
      await again.connect();
      const { rows } = await again.query('SELECT id FROM kept_across_restarts');
      await again.end();
      expect(rows).toEqual([{ id: 42 }]);
      expect(readFileSync(join(dataDir, 'secrets.json'), 'utf8')).toBe(secrets);

      // Ctrl-C in a terminal: SIGINT.
      second.child.kill('SIGINT');
      expect(await second.exit).toEqual({ code: 0, signal: null });
      expect(postgresRunningOn(join(dataDir, 'postgres'))).toBe(false);
      expect(second.output()).not.toMatch(/terminating connection|57P01/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

/** True while a postgres process serves this data directory (its pid file names a live process). */
function postgresRunningOn(directory: string): boolean {
  const pidFile = join(directory, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
