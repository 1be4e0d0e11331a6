import type { DataSourceOptions } from 'typeorm';
import './pg-types.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';

/**
 * The one DataSource configuration. Schema changes only ever come from `migrations/`
 * (never `synchronize`).
 */
export function dataSourceOptions(url: string, options: { poolSize?: number; applicationName?: string } = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'ledgerline',
    extra: { connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000 },
  } as DataSourceOptions;
}
