import { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface OpenedDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/**
 * Gives the entry points a database URL: DATABASE_URL when set, otherwise an embedded
 * PostgreSQL under the data directory, migrated to the latest schema. Nothing outside
 * `database/` knows which it was.
 */
export async function openDatabase(config: AppConfig, logger: Logger): Promise<OpenedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, stop: async () => undefined };
  const started = Date.now();
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    nodeEnv: config.nodeEnv,
    log: (message) => logger.trace({ component: 'embedded-postgres' }, message),
  });
  logger.info({ port: embedded.port, ms: Date.now() - started }, 'embedded PostgreSQL started');
  try {
    await migrate(embedded.url, logger);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  return { url: embedded.url, embedded: true, stop: embedded.stop };
}

export async function migrate(url: string, logger?: Logger): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(url, { poolSize: 2, applicationName: 'ledgerline-migrate' }));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length) logger?.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    return applied.map((m) => m.name);
  } finally {
    await dataSource.destroy();
  }
}
