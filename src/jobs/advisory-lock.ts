import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs `work` only if this process wins `pg_try_advisory_xact_lock(key)`. The lock is
 * transaction-scoped, so it is released at commit or rollback and can never leak on a pooled
 * connection the way a session lock can. Returns undefined when another process holds it.
 */
export async function withAdvisoryXactLock<T>(
  dataSource: DataSource,
  key: string,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T | undefined> {
  return dataSource.transaction(async (manager) => {
    const [row]: Array<{ locked: boolean }> = await manager.query('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', [`cron:${key}`]);
    if (!row.locked) return undefined;
    return work(manager);
  });
}
