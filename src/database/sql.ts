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
