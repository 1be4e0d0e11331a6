import { rmSync } from 'node:fs';
import { join } from 'node:path';

// Jest loads global setup as CommonJS through its transformer, outside the ESM module map, so
// the TypeScript source is required by its real file name.
const { startEmbeddedPostgres } = require('../../src/database/embedded-postgres.ts') as typeof import('../../src/database/embedded-postgres.js');

/**
 * One PostgreSQL server for the whole e2e run: DATABASE_URL when given (the production
 * footprint, e.g. CI's local server), otherwise an embedded one under .data/test-postgres.
 * Each suite then creates and drops its own database on it (see harness/app.ts).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.LEDGERLINE_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }
  // One cluster per run (removed at teardown), so two runs on one machine never share a server.
  const name = `test-postgres-${process.pid}`;
  const embedded = await startEmbeddedPostgres({
    dataDir: join(process.cwd(), '.data'),
    name,
    database: 'postgres',
    nodeEnv: 'test',
    durable: false,
  });
  process.env.LEDGERLINE_TEST_ADMIN_URL = embedded.adminUrl;
  (globalThis as { __ledgerlineTestDatabase?: { stop(): Promise<void> } }).__ledgerlineTestDatabase = {
    stop: async () => {
      await embedded.stop();
      rmSync(join(process.cwd(), '.data', name), { recursive: true, force: true });
    },
  };
}
