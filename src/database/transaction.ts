import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs `work` in one transaction, or joins the caller's when a manager is passed, so a service
 * method can be composed into a larger unit of work without partial writes.
 */
export async function inTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  manager?: EntityManager,
): Promise<T> {
  if (manager?.queryRunner?.isTransactionActive) return work(manager);
  return dataSource.transaction(work);
}
