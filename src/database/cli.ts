import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';

/**
 * `node dist/src/database/cli.js run|revert|show` against DATABASE_URL (the production
 * footprint's one-shot migrate step). The embedded footprint migrates at boot instead.
 */
async function main(command: string): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required for the migration commands');
  const dataSource = new DataSource(dataSourceOptions(config.databaseUrl, { poolSize: 2, applicationName: 'ledgerline-migrate' }));
  await dataSource.initialize();
  try {
    if (command === 'run') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'no pending migrations');
    } else if (command === 'revert') {
      await dataSource.undoLastMigration({ transaction: 'each' });
      console.log('reverted the last migration');
    } else if (command === 'show') {
      const pending = await dataSource.showMigrations();
      console.log(pending ? 'there are pending migrations' : 'no pending migrations');
    } else {
      throw new Error(`unknown command "${command}" (run, revert, show)`);
    }
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv[2] ?? 'run').catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`);
  process.exit(1);
});
