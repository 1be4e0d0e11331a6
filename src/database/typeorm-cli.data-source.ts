import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source.js';

/** Used only by `npm run migration:generate` (the TypeORM CLI); needs DATABASE_URL. */
if (!process.env.DATABASE_URL) throw new Error('Set DATABASE_URL to a database migrated to the current head');
export default new DataSource(dataSourceOptions(process.env.DATABASE_URL));
