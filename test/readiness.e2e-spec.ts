import pg from 'pg';
import { startTestApp, type TestApp } from './harness/app.js';

/** Readiness must tell an orchestrator which dependency is down, and recover by itself. */
describe('readiness when the database goes away', () => {
  let t: TestApp;
  let admin: pg.Client;
  let databaseName: string;

  beforeAll(async () => {
    t = await startTestApp();
    databaseName = new URL(t.databaseUrl).pathname.slice(1);
    admin = new pg.Client({ connectionString: process.env.LEDGERLINE_TEST_ADMIN_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.query(`ALTER DATABASE ${databaseName} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    await t?.close();
  });

  it('answers 503 problem+json naming the database, then 200 again when it is back', async () => {
    expect((await t.inject('/health/ready')).statusCode).toBe(200);

    // No new connections, and the app's own connections cut: its database is gone. The queue
    // backend's connections (application_name ledgerline-queue) are left alone: cutting those
    // too drove the Jest process to 100% CPU in the embedded footprint (README, "Known issues"),
    // so this test checks that readiness tells the two dependencies apart.
    await admin.query(`ALTER DATABASE ${databaseName} ALLOW_CONNECTIONS false`);
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name = 'ledgerline'`,
      [databaseName],
    );

    const down = await t.inject('/health/ready');
    expect(down.statusCode).toBe(503);
    expect(down.headers['content-type']).toContain('application/problem+json');
    const problem = down.json();
    expect(problem).toMatchObject({ status: 503, code: 'not_ready' });
    expect(problem.checks.database).toBe('down');
    expect(problem.checks.queue).toBe('up');
    expect(problem.detail).toContain('database');

    // Liveness does not depend on the database.
    expect((await t.inject('/health')).statusCode).toBe(200);

    await admin.query(`ALTER DATABASE ${databaseName} ALLOW_CONNECTIONS true`);
    let recovered = 0;
    for (let attempt = 0; attempt < 40 && recovered !== 200; attempt += 1) {
      recovered = (await t.inject('/health/ready')).statusCode;
      if (recovered !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(recovered).toBe(200);
  });
});
