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
  const embedded = await startEmbeddedPostgres({
    dataDir: join(process.cwd(), '.data'),
    name: 'test-postgres',
    database: 'postgres',
    nodeEnv: 'test',
    durable: false,
  });
  process.env.LEDGERLINE_TEST_ADMIN_URL = embedded.adminUrl;
  (globalThis as { __ledgerlineTestDatabase?: { stop(): Promise<void> } }).__ledgerlineTestDatabase = embedded;
}
