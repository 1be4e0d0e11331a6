import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/database/database.js';

/** A fresh, migrated database on the test server; `drop()` removes it. */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const adminUrl = process.env.LEDGERLINE_TEST_ADMIN_URL;
  if (!adminUrl) throw new Error('LEDGERLINE_TEST_ADMIN_URL is not set: run through jest (global setup)');
  const name = `ledgerline_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const parsed = new URL(adminUrl);
  parsed.pathname = `/${name}`;
  const url = parsed.toString();
  await migrate(url);
  return { url, name, drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
