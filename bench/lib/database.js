// The database a database-backed scenario measures: DATABASE_URL when set (the stack gets it
// from the environment too), otherwise the stack's embedded PostgreSQL, found from the stack's
// "embedded PostgreSQL started" log line and the password file in LEDGERLINE_DATA_DIR (default
// .data). A scenario using the embedded database must start the stack first (`startOrder`).
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from './proc.js';

export async function stackDatabaseUrl(ctx) {
  if (process.env.DATABASE_URL?.trim()) return process.env.DATABASE_URL.trim();
  const logFile = ctx.servers.stack.logFile;
  const deadline = Date.now() + 5000; // the app logs asynchronously
  for (;;) {
    const line = fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('embedded PostgreSQL started'));
    if (line) {
      const { port } = JSON.parse(line);
      const dataDir = process.env.LEDGERLINE_DATA_DIR?.trim() ? path.resolve(ctx.root, process.env.LEDGERLINE_DATA_DIR.trim()) : path.join(ctx.root, '.data');
      const password = fs.readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
      return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/ledgerline`;
    }
    if (Date.now() > deadline) throw new Error(`no DATABASE_URL and no "embedded PostgreSQL started" line in ${path.relative(ctx.root, logFile)}`);
    await sleep(100);
  }
}
