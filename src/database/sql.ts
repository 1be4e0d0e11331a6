import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';

type Runner = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

/**
 * The rows a statement returns. TypeORM's `query()` answers UPDATE and DELETE with
 * `[rows, rowCount]` instead of the rows, so `... RETURNING` results must go through here.
 */
export async function queryRows<T>(runner: Runner, text: string, parameters?: unknown[]): Promise<T[]> {
  const result: unknown = await runner.query(text, parameters);
  if (/^\s*(update|delete)\b/i.test(text)) return (result as [T[], number])[0];
  return result as T[];
}

/**
 * A hot statement (the per-request session check, the invoice read) as a named prepared
 * statement on the pool under TypeORM, so PostgreSQL parses and plans it once per connection
 * instead of on every request. The name is derived from the text, so a text must not vary with
 * its values (bind them all); never use it inside a transaction (it takes any pooled connection).
 */
export async function preparedQuery<T>(dataSource: DataSource, text: string, values: unknown[]): Promise<T[]> {
  let name = statementNames.get(text);
  if (!name) {
    name = `ll_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  const pool = (dataSource.driver as unknown as { master: { query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: T[] }> } }).master;
  return (await pool.query({ name, text, values })).rows;
}

const statementNames = new Map<string, string>();
